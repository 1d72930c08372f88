// chain completion: print a bash completion script. The script asks the chain it completes for the
// candidates (yargs' own --get-yargs-completions: commands, each command's options, choices), so it
// never drifts from the real command line; host names (--host, --from, --link, trust) come from the
// ring of the config the command line names, through `chain completion --list-hosts`.
import type { Argv, CommandModule } from 'yargs';
import { EXIT } from '../../core/exit-codes.js';
import { loadFromArgs, type GlobalArgs } from '../context.js';
import { setExit } from '../exit.js';

interface CompletionArgs extends GlobalArgs {
  listHosts?: boolean;
}

export const completionCommand: CommandModule<GlobalArgs, CompletionArgs> = {
  command: 'completion',
  describe: 'print a bash completion script',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('list-hosts', { type: 'boolean', describe: "print the ring's host names, one a line (what the script offers after --host, --from, --link and trust)" })
      .example('source <(chain completion)', 'complete chain in this shell')
      .example('chain completion > /etc/bash_completion.d/chain', 'for every user (bash-completion loads it)')
      .example('chain completion --list-hosts', 'the host names it completes'),
  handler: (argv) => {
    if (argv.listHosts) {
      const config = loadFromArgs(argv);
      process.stdout.write(config.hosts.map((h) => h.name + '\n').join(''));
    } else {
      process.stdout.write(BASH_SCRIPT);
    }
    setExit(EXIT.OK);
  },
};

// Words are taken from COMP_LINE up to the cursor rather than COMP_WORDS, which bash splits at ":"
// and "=" (COMP_WORDBREAKS): "--link apollo:chronos" must stay one word. Replies are trimmed to
// what bash treats as the word being completed (after the last ":" or "=").
// Written raw, with bash's "${" as "$\{" (a template literal would read "${" itself).
export const BASH_SCRIPT = String.raw`# bash completion for chain (written by "chain completion")
#   this shell:  source <(chain completion)
#   every user:  chain completion > /etc/bash_completion.d/chain
# Commands, options and their values are asked of chain itself; host names come from the ring of
# the config named on the line (--config FILE), or $CHAIN_CONFIG, ./chain.yaml, /etc/chain/chain.yaml.

_chain_complete() {
    local line=$\{COMP_LINE:0:COMP_POINT}
    local -a words
    read -r -a words <<< "$line"
    [[ -z $line || $line == *[[:space:]] ]] && words+=("")
    local n=$\{#words[@]}
    local cur=$\{words[n-1]} prev=
    (( n > 1 )) && prev=$\{words[n-2]}
    local prog=$\{words[0]/#\~/$HOME}
    COMPREPLY=()

    # the config this line names, for host names
    local -a cfg=()
    local i w
    for (( i = 1; i < n - 1; i++ )); do
        w=$\{words[i]}
        if [[ $w == --config ]] && (( i + 1 < n - 1 )); then
            cfg=(--config "$\{words[i+1]/#\~/$HOME}")
        elif [[ $w == --config=* ]]; then
            w=$\{w#--config=}
            cfg=(--config "$\{w/#\~/$HOME}")
        fi
    done

    local opt= val=$cur
    if [[ $cur == --*=* ]]; then
        opt=$\{cur%%=*}
        val=$\{cur#*=}
    elif [[ $prev == --* ]]; then
        opt=$prev
    fi

    local -a hosts=() list=()
    case $opt in
    --config)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$val")
        return 0
        ;;
    --host | --from)
        mapfile -t hosts < <("$prog" "$\{cfg[@]}" completion --list-hosts 2>/dev/null)
        mapfile -t COMPREPLY < <(compgen -W "$\{hosts[*]}" -- "$val")
        return 0
        ;;
    --link)
        mapfile -t hosts < <("$prog" "$\{cfg[@]}" completion --list-hosts 2>/dev/null)
        local h
        if [[ $val == *:* ]]; then
            for h in "$\{hosts[@]}"; do
                [[ $h != "$\{val%%:*}" ]] && list+=("$\{val%%:*}:$h")
            done
        else
            for h in "$\{hosts[@]}"; do list+=("$h:"); done
            compopt -o nospace 2>/dev/null
        fi
        mapfile -t COMPREPLY < <(compgen -W "$\{list[*]}" -- "$val")
        _chain_trim_prefix "$val"
        return 0
        ;;
    esac

    # trust [HOST..]: host names as arguments
    if [[ $cur != -* ]]; then
        for (( i = 1; i < n - 1; i++ )); do
            if [[ $\{words[i]} == trust ]]; then
                mapfile -t hosts < <("$prog" "$\{cfg[@]}" completion --list-hosts 2>/dev/null)
                mapfile -t COMPREPLY < <(compgen -W "$\{hosts[*]}" -- "$cur")
                return 0
            fi
        done
    fi

    # everything else: commands, options and choices, from chain's own parser
    # (an --option=value being completed is passed as two words, as the parser expects them)
    local -a ask=("$\{words[@]:0:n-1}")
    if [[ -n $opt && $cur == --*=* ]]; then ask+=("$opt" "$val"); else ask+=("$cur"); fi
    mapfile -t list < <("$prog" --get-yargs-completions "$\{ask[@]}" 2>/dev/null)
    local c
    for c in "$\{list[@]}"; do
        [[ $c == --progress ]] && list+=(--no-progress)
    done
    mapfile -t COMPREPLY < <(compgen -W "$\{list[*]}" -- "$val")
    return 0
}

# bash replaces only the part of the word after the last ":" or "=" (COMP_WORDBREAKS)
_chain_trim_prefix() {
    local word=$1 pre
    local breaks=$\{COMP_WORDBREAKS//[!:=]/}
    [[ -z $breaks ]] && return
    pre=$\{word%"$\{word##*[$breaks]}"}
    [[ -n $pre ]] && COMPREPLY=("$\{COMPREPLY[@]#"$pre"}")
}

complete -F _chain_complete chain
`.replaceAll('$\\{', '${');
