# bash completion for the accel-loader tools: accelinfo, accel-run,
# accel-conformance and accel-uacce-emulator. Installed once under each
# tool's name, so that bash-completion loads it on first use of any of them.

# Sets cur (the word being completed) and opt (the option whose value it
# may be) from COMP_WORDS, for "--opt value" and "--opt=value" alike.
_accel_loader_words()
{
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    # "--opt=value": bash splits at "=", so the option is two words back.
    if [[ $cur == = ]]; then
        opt=$prev
        cur=
    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
        opt=${COMP_WORDS[COMP_CWORD - 2]}
    else
        opt=$prev
    fi
}

_accel_loader_files()
{
    # $1: a glob of file names to offer, or "" for directories only.
    # One name a line, so that names with blanks stay whole.
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -d -- "$cur"; [[ -n $1 ]] && compgen -f -X "!$1" -- "$cur")
}

_accel_loader_options()
{
    # $1: the options; those ending in "=" take their value in the same word.
    COMPREPLY=($(compgen -W "$1" -- "$cur"))
    [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
}

_accelinfo()
{
    local cur prev opt i
    _accel_loader_words
    case $opt in
        --format) COMPREPLY=($(compgen -W "dot json svg" -- "$cur")); return ;;
        --topology-xml) _accel_loader_files '*.xml'; return ;;
        --topology-file | --devices) _accel_loader_files '*.json'; return ;;
    esac
    if [[ $cur == -* ]]; then
        _accel_loader_options "-j --json -s --summary --cdi --topology --format= --topology-xml=
            --topology-file= --devices= --no-instance-devices --check-manifest -h --help -V --version"
        return
    fi
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} == --check-manifest ]]; then
            _accel_loader_files '*.json'
            return
        fi
    done
    COMPREPLY=()
}

_accel_run()
{
    local cur prev opt
    _accel_loader_words
    case $opt in
        -o | --output-dir | --corpus) _accel_loader_files ''; return ;;
        -i | --input | --output) _accel_loader_files '*'; return ;;
        --topology) _accel_loader_files '*.xml'; return ;;
        --devices) _accel_loader_files '*.json'; return ;;
        -f | --force | --pasid-bits | --iommu-contexts | --time-limit | --chunk-size | --calibrate-sizes | \
            --calibrate-budget) COMPREPLY=(); return ;;
    esac
    if [[ $cur == -* ]]; then
        _accel_loader_options "-p --plan-only -e --explain -j --json -f --force --no-copies --pasid-bits
            --iommu-contexts --time-limit --topology --devices -o --output-dir -i --input --output
            --chunk-size --whole-buffer --throughput -q --quiet --calibrate --corpus --calibrate-sizes
            --calibrate-budget -h --help -V --version"
        return
    fi
    # The pipeline.
    _accel_loader_files '*.json'
}

_accel_conformance()
{
    local cur prev opt
    _accel_loader_words
    case $opt in
        -k | --known-failures | -j | --junit) _accel_loader_files '*'; return ;;
        -g | --group)
            # The groups, from the suite itself.
            COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" --list 2>/dev/null |
                sed -n 's/^\([A-Za-z0-9_]\{1,\}\).*/\1/p')" -- "$cur"))
            return ;;
        -s | --selector | -p | --peer | -t | --test | --fault-hook | --wait-timeout | --test-timeout)
            COMPREPLY=(); return ;;
    esac
    if [[ $cur == -* ]]; then
        _accel_loader_options "-s --selector= -p --peer= -g --group= -t --test= -k --known-failures=
            -j --junit= --fault-hook= --wait-timeout= --test-timeout= -l --list -v --verbose
            -h --help --version"
        return
    fi
    COMPREPLY=()
}

_accel_uacce_emulator()
{
    local cur prev opt
    _accel_loader_words
    case $opt in
        -r | --root) _accel_loader_files ''; return ;;
        --algorithms)
            # A comma-separated list: complete the word after the last comma.
            local done=${cur%"${cur##*,}"}
            COMPREPLY=($(compgen -P "$done" -W "zlib crc32c sha256" -- "${cur##*,}"))
            compopt -o nospace 2>/dev/null
            return ;;
        -n | --name | --instances | --isolate-threshold | --numa-node | --latency-us)
            COMPREPLY=(); return ;;
    esac
    if [[ $cur == -* ]]; then
        _accel_loader_options "-r --root -n --name --sva --no-sva --instances --algorithms
            --isolate-threshold --numa-node --latency-us --inject-error -h --help -V --version"
        return
    fi
    COMPREPLY=()
}

complete -F _accelinfo accelinfo
complete -F _accel_run accel-run
complete -F _accel_conformance accel-conformance
complete -F _accel_uacce_emulator accel-uacce-emulator
