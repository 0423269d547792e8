//! Server-Sent Events parsing (stub; being written).

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event type; `message` when the stream named none.
    pub event: String,
    /// The data lines joined with `\n`.
    pub data: String,
    /// The last event id in force when the event was dispatched.
    pub id: String,
    /// Byte offset in the stream of the event's first line.
    pub offset: u64,
}
