#!/bin/bash
# Check the bash completion of the tools: sourcing it registers each tool,
# completing "TOOL -" offers exactly the options TOOL --help lists, and
# option values and arguments complete to what they take.
# Usage: check-completion.sh COMPLETION_SCRIPT ACCELINFO ACCEL_RUN ACCEL_CONFORMANCE [UACCE_EMULATOR]
set -u
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
script=$(abs "$1")
accelinfo=$(abs "$2")
accel_run=$(abs "$3")
accel_conformance=$(abs "$4")
tools=("$accelinfo" "$accel_run" "$accel_conformance")
emulator=
if [ $# -ge 5 ]; then
    emulator=$(abs "$5")
    tools+=("$emulator")
fi
status=0
fail() { echo "FAIL: $*"; status=1; }

# shellcheck source=/dev/null
. "$script" || { echo "FAIL: sourcing $script"; exit 1; }

# complete WORD... : run the completion function of WORD[0] on the words,
# the last one being completed, and print COMPREPLY one per line.
complete_words() {
    local spec func
    spec=$(complete -p "$1" 2>/dev/null) || { echo "no completion for $1" >&2; return 1; }
    func=$(sed -n 's/.*-F \([^ ]*\) .*/\1/p' <<<"$spec")
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$func" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}

# The options --help lists, "--opt=" kept as the completion offers it.
help_options() {
    "$1" --help | grep -oE '(^|[ ,[])--?[A-Za-z][A-Za-z0-9-]*=?' | sed 's/^[ ,[]//' |
        grep -vE '^-[A-Za-z][A-Za-z0-9]' | sort -u
}

for tool in "${tools[@]}"; do
    name=$(basename "$tool")
    want=$(help_options "$tool" | sed 's/=$//' | sort -u)
    got=$(PATH="$(dirname "$tool"):$PATH" complete_words "$name" - | sed 's/=$//' | sort -u)
    [ -n "$want" ] || fail "no options in $name --help"
    if [ "$want" != "$got" ]; then
        fail "$name -<TAB> differs from $name --help:"
        diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
    else
        echo "$name: completes its $(echo "$want" | wc -l) options"
    fi
done

got=$(complete_words accelinfo -- | tr '\n' ' ')
case " $got" in *" --json "*"--version "*) ;; *) fail "accelinfo --<TAB> gave '$got'" ;; esac
got=$(complete_words accelinfo --topology --format = | tr '\n' ' ')
[ "$got" = "dot json svg " ] || fail "accelinfo --format=<TAB> gave '$got'"
got=$(complete_words accelinfo --topology --format j | tr '\n' ' ')
[ "$got" = "json " ] || fail "accelinfo --format j<TAB> gave '$got'"

work=$(mktemp -d "${TMPDIR:-/tmp}/accel-completion.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/sub"
touch "$work/demo.json" "$work/notes.txt" "$work/host.xml"
cd "$work" || exit 1
got=$(complete_words accel-run -p "" | tr '\n' ' ')
[ "$got" = "demo.json sub " ] || fail "accel-run -p <TAB> gave '$got' (want the pipelines and directories)"
got=$(complete_words accel-run --topology h | tr '\n' ' ')
[ "$got" = "host.xml " ] || fail "accel-run --topology h<TAB> gave '$got'"
got=$(complete_words accel-run -o "" | tr '\n' ' ')
[ "$got" = "sub " ] || fail "accel-run -o <TAB> gave '$got'"
got=$(complete_words accelinfo --check-manifest "" | tr '\n' ' ')
[ "$got" = "demo.json sub " ] || fail "accelinfo --check-manifest <TAB> gave '$got'"
got=$(complete_words accelinfo "" | tr '\n' ' ')
[ -z "$got" ] || fail "accelinfo <TAB> gave '$got' (it takes no argument)"
got=$(PATH="$(dirname "$accel_conformance"):$PATH" complete_words accel-conformance --group "" | tr '\n' ' ')
case " $got" in *" abi "*) ;; *) fail "accel-conformance --group <TAB> gave '$got' (no abi group)" ;; esac

if [ -n "$emulator" ]; then
    got=$(complete_words accel-uacce-emulator --root "" | tr '\n' ' ')
    [ "$got" = "sub " ] || fail "accel-uacce-emulator --root <TAB> gave '$got' (want directories)"
    got=$(complete_words accel-uacce-emulator --algorithms zlib,c | tr '\n' ' ')
    [ "$got" = "zlib,crc32c " ] || fail "accel-uacce-emulator --algorithms zlib,c<TAB> gave '$got'"
    got=$(complete_words accel-uacce-emulator --instances "" | tr '\n' ' ')
    [ -z "$got" ] || fail "accel-uacce-emulator --instances <TAB> gave '$got' (a number)"
fi

[ $status -eq 0 ] && echo "PASS"
exit $status
