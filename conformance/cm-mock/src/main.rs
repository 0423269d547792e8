//! cm-mock: a scripted mock model provider on 127.0.0.1 (agent issue; not yet written).
#![forbid(unsafe_code)]

fn main() {
    eprintln!("cm-mock: not yet implemented (see the agent issue)");
    std::process::exit(2);
}
