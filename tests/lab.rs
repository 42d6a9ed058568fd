//! The lab's scenarios as tests: one shared topology, the scenarios one after another, each a named test
//! (`cargo test -p vigil-lab --features lab --test lab -- dns_censorship` runs one). The topology is torn down
//! when the run ends, fails, or is interrupted (Ctrl-C, SIGTERM).

use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};
use vigil_lab::lab::scenarios::{SCENARIOS, run};
use vigil_lab::lab::{Lab, net};

fn main() {
    let mut args = Arguments::from_args();
    // One topology, one scenario at a time.
    args.test_threads = Some(1);
    let lab: Arc<Mutex<Option<Result<Lab, String>>>> = Arc::new(Mutex::new(None));
    if !args.list
        && let Err(err) = ctrlc::set_handler(|| {
            eprintln!("\ninterrupted: tearing the lab down");
            net::teardown();
            std::process::exit(130);
        })
    {
        eprintln!("cannot catch Ctrl-C ({err}); `vigil-lab down` cleans up after an interrupted run");
    }
    let trials = SCENARIOS
        .iter()
        .map(|scenario| {
            let lab = Arc::clone(&lab);
            Trial::test(scenario.name, move || {
                // A scenario that panicked poisons the lock; the lab itself is still usable.
                let mut guard = lab.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let up = guard.get_or_insert_with(|| Lab::up().map_err(|e| e.to_string()));
                let lab = up.as_mut().map_err(|e| Failed::from(e.clone()))?;
                println!("\n{}: {}", scenario.name, scenario.story);
                match run(lab, scenario) {
                    Ok(report) => {
                        for line in report.lines {
                            println!("  ✓ {line}");
                        }
                        Ok(())
                    }
                    Err(err) => Err(Failed::from(format!(
                        "{err}\n(logs: {})",
                        lab.dir.join("runs").join(scenario.name).display()
                    ))),
                }
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // Dropping the lab stops every process and removes every namespace; the teardown after it also covers a
    // lab that never finished coming up.
    lab.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if !args.list {
        net::teardown();
    }
    conclusion.exit();
}
