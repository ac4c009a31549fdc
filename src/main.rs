//! The `memlink` command-line tool: a thin shell over the `memlink` library.

fn main() -> std::process::ExitCode {
    cli::main()
}

mod cli;
