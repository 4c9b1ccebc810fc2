//! The sandbox launcher on its own (the CLI's `metamesh sandbox-run` is the same): carries out
//! the plan file it is given and becomes the task's command.

fn main() {
    let Some(plan) = std::env::args_os().nth(1) else {
        eprintln!("usage: metamesh-sandbox PLAN.json");
        std::process::exit(2);
    };
    metamesh_compute::sandbox::enter(std::path::Path::new(&plan))
}
