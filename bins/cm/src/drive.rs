//! Running the prepared turn through cm-driver: the ureq HTTP client, the native tool
//! host, the session log as the record sink, and cm's output and questions as the UI.

use std::sync::mpsc::Sender;
use std::sync::Arc;

use cm_driver::{Driver, Input, Runtime, StdRuntime, ToolHost};
use cm_proto::agent::{AskId, Decision, End, Event, Question};
use cm_proto::message::Part;
use cm_proto::tool::{todo, ToolOptions};
use cm_ureq::{ClientOptions, UreqClient, UreqFetcher};

use crate::ask::{self, Asker};
use crate::exit::{Failure, Status};
use crate::interrupt::Interrupt;
use crate::output::Ui;
use crate::run::{status_of, Prepared};

/// cm's output and questions, as the driver's UI port.
struct UiPort<'a> {
    ui: &'a mut Ui,
    asker: Asker,
}

impl cm_driver::Ui for UiPort<'_> {
    fn show(&mut self, event: &Event) {
        self.ui.show(event);
    }

    fn ask(&mut self, id: AskId, question: &Question, inputs: &Sender<Input>) {
        match self.asker {
            Asker::Nobody => {
                self.ui.note(&ask::no_terminal_note(question));
                let decision = Decision::Deny {
                    message: Some(ask::NO_TERMINAL_FOR_MODEL.to_string()),
                };
                let _ = inputs.send(Input::Answer(id, decision));
            }
            Asker::Terminal => {
                self.ui.pause();
                let question = question.clone();
                let answers = inputs.clone();
                // The answer is read on its own thread so Ctrl-C still reaches the loop.
                let spawned = std::thread::Builder::new()
                    .name("cm-ask".into())
                    .spawn(move || {
                        let decision = ask::ask_terminal(&question);
                        let _ = answers.send(Input::Answer(id, decision));
                    });
                if spawned.is_err() {
                    let _ = inputs.send(Input::Answer(id, Decision::Deny { message: None }));
                }
            }
        }
    }
}

/// Runs the prepared turn to its end and says how cm exits.
pub fn drive(prepared: Prepared, ui: &mut Ui) -> Result<Status, Failure> {
    let Prepared {
        mut agent,
        provider,
        mut session,
        prompt,
        workspace,
    } = prepared;
    let runtime: Arc<dyn Runtime> = Arc::new(StdRuntime::new());
    let http = UreqClient::new(ClientOptions::from_env());
    let options = ToolOptions {
        images: provider.images,
        ..ToolOptions::default()
    };
    let todos = todo::from_history(agent.history());
    let tools = ToolHost::new(workspace, options, Arc::clone(&runtime))
        .with_web(Arc::new(UreqFetcher::new(ClientOptions::from_env())))
        .with_todos(todos);
    let mut driver = Driver::new(runtime, http, tools);
    let sender = driver.inputs();
    let interrupt = Interrupt::install(move || {
        let _ = sender.send(Input::Interrupt);
    })
    .map_err(|e| Failure::failed(format!("cannot handle Ctrl-C: {e}")))?;

    let credential = provider.credential.clone();
    let mut credentials = |_: &str| credential.clone();
    let mut port = UiPort {
        ui: &mut *ui,
        asker: Asker::detect(),
    };
    let session_id = session.log.id().as_str().to_string();
    let outcome = driver
        .run_turn(
            &mut agent,
            vec![Part::text(prompt)],
            &mut port,
            &mut session.log,
            &mut credentials,
        )
        .map_err(|e| Failure::failed(format!("{e} (session {session_id})")))?;
    ui.finish(&outcome, &session_id);
    let status = status_of(&outcome.end);
    // A Ctrl-C that came too late to abort anything still means "interrupted".
    if interrupt.requested() && outcome.end != End::Completed {
        return Ok(Status::Interrupted);
    }
    Ok(status)
}
