//! [`BlockingSmolClient`]: a [`SmolClient`] behind cm-driver's blocking [`HttpClient`].
//!
//! Each exchange is a task on smol's global executor that forwards the client's async
//! inputs into the driver's `mpsc` sender; cancelling (or dropping the adapter) drops the
//! task, which closes its connection. Finished exchanges leave their connection in the
//! client's keep-alive pool, so a session's requests reuse one connection.

use std::collections::HashMap;
use std::sync::mpsc;

use cm_driver::{HttpClient, Input};
use cm_proto::agent::HttpId;
use cm_proto::http::Request;
use smol::Task;

use crate::SmolClient;

/// Runs a [`SmolClient`]'s exchanges for the blocking `cm_driver::Driver`.
pub struct BlockingSmolClient {
    client: SmolClient,
    running: HashMap<HttpId, Task<()>>,
}

impl BlockingSmolClient {
    /// An adapter over `client` (clones share its keep-alive pool).
    pub fn new(client: SmolClient) -> BlockingSmolClient {
        BlockingSmolClient {
            client,
            running: HashMap::new(),
        }
    }

    /// The client the exchanges run on.
    pub fn client(&self) -> &SmolClient {
        &self.client
    }

    /// How many exchanges have not finished yet.
    pub fn in_flight(&self) -> usize {
        self.running
            .values()
            .filter(|task| !task.is_finished())
            .count()
    }
}

impl std::fmt::Debug for BlockingSmolClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingSmolClient")
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl HttpClient for BlockingSmolClient {
    fn start(&mut self, id: HttpId, request: Request, inputs: mpsc::Sender<Input>) {
        self.running.retain(|_, task| !task.is_finished());
        let client = self.client.clone();
        let task = smol::spawn(async move {
            let (sender, receiver) = async_channel::unbounded();
            let exchange = async move {
                client.exchange(id, request, &sender).await;
            };
            // Ends when the exchange has sent its last input (its sender is dropped) or
            // when the driver no longer listens, which makes the exchange stop too.
            let forward = async move {
                while let Ok(input) = receiver.recv().await {
                    if inputs.send(input).is_err() {
                        break;
                    }
                }
            };
            smol::future::zip(exchange, forward).await;
        });
        self.running.insert(id, task);
    }

    fn cancel(&mut self, id: HttpId) {
        self.running.remove(&id);
    }
}
