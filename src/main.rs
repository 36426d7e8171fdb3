//! `slr`: parse the command line, run it, map errors to exit codes
//! (0 ok, 1 a run failed, 2 bad input, 4 a stage's input not done, 130 stopped with a
//! checkpoint; 3 is the Slurm job scripts' own: runs folder not visible on the node).

use clap::Parser;

fn main() {
    // Before anything allocates: freed tensors' memory is reused instead of unmapped.
    slr_repro::base::alloc::keep_freed_memory();
    let cli = slr_repro::cli::Cli::parse();
    slr_repro::cli::init_logging();
    match slr_repro::cli::run(cli) {
        Ok(()) => {}
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(error.exit_code());
        }
    }
}
