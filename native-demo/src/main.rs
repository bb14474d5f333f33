//! `icnet`: ICNet co-saliency detection (Jin et al., NeurIPS 2020) on WebGPU.
//!
//! `main` only parses the command line and turns a failed command into one
//! `error: ...` line and a non-zero exit code; each sub-command lives in its
//! own module so that this file stays a table of contents.

mod atomic;
mod bench;
mod cli;
mod device;
mod discover;
mod eval;
mod fetch_models;
mod info;
mod make_weights;
mod npy;
mod outputs;
mod picture;
mod progress;
mod report;
mod run;
mod text;
mod tuning;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Run(args) => run::run(&args),
        cli::Command::Info => info::info(),
        cli::Command::Bench(args) => bench::bench(&args),
        cli::Command::MakeTestWeights(args) => make_weights::make_test_weights(&args),
        cli::Command::FetchModels(args) => fetch_models::fetch_models(&args),
        cli::Command::Eval(args) => eval::eval(&args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
