//! `completion bash|zsh`: a completion script generated from cairnctl's own command tree, so it
//! always knows every command and flag. (Not cobra's script: it completes command names and flag
//! names, and leaves values to the shell's file completion.)
//!
//! ```text
//! source <(cairnctl completion bash)
//! cairnctl completion zsh > "${fpath[1]}/_cairnctl"
//! ```

use crate::exit::Fail;
use crate::global::Ctx;

/// Arguments of `completion`.
#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// The shell: bash or zsh.
    args: Vec<String>,
}

/// Runs `completion`.
pub fn run(_ctx: &Ctx, args: CompletionArgs, cli: clap::Command) -> Result<(), Fail> {
    let program = cli.get_name().to_owned();
    let table = Table::of(&cli);
    let script = match args.args.first().map(String::as_str) {
        Some("bash") => bash(&program, &table),
        Some("zsh") => zsh(&program, &table),
        Some(other) => return Err(Fail::bad_args(format!("unsupported shell {other:?}: choose bash or zsh"))),
        None => {
            return Err(Fail::bad_args(format!(
                "completion needs a shell: `{program} completion bash` or `{program} completion zsh`"
            )));
        }
    };
    crate::print::out(&script);
    Ok(())
}

/// For each command path (`""`, `"member"`, `"member add"`, …): its subcommands, its flags, and
/// the flags among them that take a separate value.
struct Table {
    rows: Vec<Row>,
}

struct Row {
    path: String,
    subcommands: Vec<String>,
    flags: Vec<String>,
    valued: Vec<String>,
}

impl Table {
    fn of(cli: &clap::Command) -> Table {
        let mut rows = Vec::new();
        walk(cli, String::new(), &mut rows);
        Table { rows }
    }
}

fn walk(command: &clap::Command, path: String, rows: &mut Vec<Row>) {
    let subcommands: Vec<String> =
        command.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name().to_owned()).collect();
    let mut flags = Vec::new();
    let mut valued = Vec::new();
    for arg in command.get_arguments().filter(|a| !a.is_hide_set() && !a.is_positional()) {
        // Bools take their value after `=` only; every other option may take it as the next word.
        let takes_value = arg.get_action().takes_values() && !arg.is_require_equals_set();
        let names =
            arg.get_long().map(|l| format!("--{l}")).into_iter().chain(arg.get_short().map(|s| format!("-{s}")));
        for name in names {
            if takes_value {
                valued.push(name.clone());
            }
            flags.push(name);
        }
    }
    rows.push(Row { path: path.clone(), subcommands, flags, valued });
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let child = if path.is_empty() { sub.get_name().to_owned() } else { format!("{path} {}", sub.get_name()) };
        walk(sub, child, rows);
    }
}

/// A shell `case` over the command path setting `subs`, `flags` and `valued` (shared by both
/// shells: the syntax is the same).
fn cases(table: &Table) -> String {
    let mut text = String::from("    case \"$path\" in\n");
    for row in &table.rows {
        text.push_str(&format!(
            "        \"{}\") subs=\"{}\"; flags=\"{}\"; valued=\"{}\" ;;\n",
            row.path,
            row.subcommands.join(" "),
            row.flags.join(" "),
            row.valued.join(" ")
        ));
    }
    text.push_str("        *) subs=\"\"; flags=\"\"; valued=\"\" ;;\n    esac\n");
    text
}

fn bash(program: &str, table: &Table) -> String {
    let name = function_name(program);
    format!(
        r#"# bash completion for {program}
# source <({program} completion bash)

__{name}_words() {{
    local path="$1"
{cases}}}

_{name}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" word i skip=0 subs flags valued
    __{name}_words ""
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        if [[ $skip == 1 ]]; then skip=0; continue; fi
        case "$word" in
            -*=*) continue ;;
            -*) [[ " $valued " == *" $word "* ]] && skip=1; continue ;;
        esac
        if [[ " $subs " == *" $word "* ]]; then
            path="${{path:+$path }}$word"
            __{name}_words "$path"
        fi
    done
    if [[ $skip == 1 ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    fi
}}

complete -F _{name} {program}
"#,
        cases = cases(table)
    )
}

fn zsh(program: &str, table: &Table) -> String {
    let name = function_name(program);
    format!(
        r#"#compdef {program}
# zsh completion for {program}
# {program} completion zsh > "${{fpath[1]}}/_{program}"

__{name}_words() {{
    local path="$1"
{cases}}}

_{name}() {{
    local cur="${{words[CURRENT]}}" path="" word i skip=0 subs flags valued
    __{name}_words ""
    for ((i = 2; i < CURRENT; i++)); do
        word="${{words[i]}}"
        if [[ $skip == 1 ]]; then skip=0; continue; fi
        case "$word" in
            -*=*) continue ;;
            -*) [[ " $valued " == *" $word "* ]] && skip=1; continue ;;
        esac
        if [[ " $subs " == *" $word "* ]]; then
            path="${{path:+$path }}$word"
            __{name}_words "$path"
        fi
    done
    if [[ $skip == 1 ]]; then
        _files
    elif [[ "$cur" == -* ]]; then
        compadd -- ${{=flags}}
    else
        compadd -- ${{=subs}}
    fi
}}

if [[ "$funcstack[1]" == "_{name}" ]]; then
    _{name} "$@"
else
    compdef _{name} {program}
fi
"#,
        cases = cases(table)
    )
}

/// A shell function name for the program (`cairnctl` stays as it is).
fn function_name(program: &str) -> String {
    program.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli() -> clap::Command {
        clap::Command::new("tool").arg(clap::Arg::new("endpoints").long("endpoints")).subcommand(
            clap::Command::new("member")
                .subcommand(clap::Command::new("add").arg(clap::Arg::new("peer-urls").long("peer-urls"))),
        )
    }

    #[test]
    fn every_path_gets_its_words() {
        let table = Table::of(&cli());
        let paths: Vec<&str> = table.rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["", "member", "member add"]);
        let text = cases(&table);
        assert!(text.contains("\"member add\") subs=\"\"; flags=\"--peer-urls\"; valued=\"--peer-urls\" ;;"), "{text}");
        assert!(text.contains("\"\") subs=\"member\"; flags=\"--endpoints\""), "{text}");
    }

    #[test]
    fn scripts_register_the_function() {
        let table = Table::of(&cli());
        assert!(bash("tool", &table).contains("complete -F _tool tool"));
        assert!(zsh("tool", &table).starts_with("#compdef tool"));
    }
}
