//! `memlink completions SHELL` and `memlink man`: generated from the clap definitions, they must
//! name every subcommand (the list comes from clap itself, so these tests cannot go stale), the
//! man pages must be valid roff, and the bash script must load and complete in a real bash.

use std::io::Write;
use std::process::{Command, Stdio};

use clap::CommandFactory;

use crate::support::{require, run, run_cmd};

/// The CLI's argument definitions, compiled into the test as they are into the binary.
#[allow(dead_code, unreachable_pub)]
#[path = "../../src/cli/args.rs"]
mod args;

/// Every subcommand name, from clap.
fn subcommands() -> Vec<String> {
    let names: Vec<String> = args::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    assert!(names.len() > 10, "{names:?}");
    names
}

#[test]
fn completions_name_every_subcommand_in_every_shell() {
    let names = subcommands();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        let script = out.ok();
        assert!(out.stderr.is_empty(), "{shell}: {}", out.stderr);
        for name in &names {
            assert!(
                script.contains(name.as_str()),
                "{shell} completion does not name {name}"
            );
        }
    }
}

#[test]
fn completions_refuse_an_unknown_shell() {
    run(&["completions", "tcsh"]).assert_error(&["tcsh", "bash"]);
}

#[test]
fn man_page_names_every_subcommand() {
    let page = run(&["man"]);
    let page = page.ok();
    assert!(page.contains(".TH memlink 1"), "{page}");
    for name in subcommands() {
        assert!(
            page.contains(&format!("memlink\\-{name}(1)")),
            "memlink(1) does not list {name}"
        );
        // Each page memlink(1) refers to exists.
        let sub = run(&["man", &name]);
        assert!(
            sub.ok().contains(&format!(".TH memlink-{name} 1")),
            "{}",
            sub.stdout
        );
    }
    run(&["man", "nonesuch"]).assert_error(&["nonesuch", "list"]);
}

/// Formats `page` with groff, every warning enabled; returns what groff said on stderr.
fn groff_warnings(page: &[u8]) -> String {
    let mut child = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run groff");
    child.stdin.take().unwrap().write_all(page).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "groff failed: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn man_pages_are_valid_roff() {
    if !require("groff", "formats the generated man pages") {
        return;
    }
    let mut pages = vec![run(&["man"]).raw_stdout];
    for name in subcommands() {
        pages.push(run(&["man", &name]).raw_stdout);
    }
    for page in pages {
        assert!(!page.is_empty());
        let warnings = groff_warnings(&page);
        assert!(
            warnings.is_empty(),
            "groff: {warnings}\n{}",
            String::from_utf8_lossy(&page)
        );
    }
}

#[test]
fn man_page_renders_with_man() {
    if !require("man", "man -l renders the generated page") {
        return;
    }
    let dir = crate::support::tempdir::TempDir::new("man");
    let file = dir.path().join("memlink.1");
    std::fs::write(&file, run(&["man"]).raw_stdout).unwrap();
    let out = run_cmd(
        Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100"),
    );
    let text = out.ok();
    assert!(text.contains("NAME"), "{text}");
    assert!(text.contains("memlink - Look inside the memory"), "{text}");
}

#[test]
fn bash_completion_loads_and_completes_in_bash() {
    if !require("bash", "the completion script is loaded into a real bash") {
        return;
    }
    let dir = crate::support::tempdir::TempDir::new("completion");
    let script = dir.path().join("memlink.bash");
    std::fs::write(&script, run(&["completions", "bash"]).raw_stdout).unwrap();
    // Load the script, check it registered itself, then ask it what `memlink ana<TAB>` and
    // `memlink list --<TAB>` complete to.
    let probe = r#"
        set -e
        source "$1"
        complete -p memlink
        COMP_WORDS=(memlink ana); COMP_CWORD=1
        _memlink memlink ana memlink
        echo "words: ${COMPREPLY[*]}"
        COMP_WORDS=(memlink list --); COMP_CWORD=2
        _memlink memlink -- list
        echo "options: ${COMPREPLY[*]}"
    "#;
    let out = run_cmd(
        Command::new("bash")
            .args(["--norc", "--noprofile", "-c", probe, "probe"])
            .arg(&script),
    );
    let text = out.ok();
    assert!(out.stderr.is_empty(), "bash: {}", out.stderr);
    assert!(text.contains("-F _memlink memlink\n"), "{text}");
    assert!(text.contains("words: analyze\n"), "{text}");
    let options = text.lines().find(|l| l.starts_with("options:")).unwrap();
    for option in ["--pid", "--detailed", "--format"] {
        assert!(options.split(' ').any(|o| o == option), "{text}");
    }
}
