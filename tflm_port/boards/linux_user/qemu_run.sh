#!/bin/sh
# Run a user-mode firmware under QEMU with the kwsq_icount plugin counting the
# executable's code, [__executable_start, etext), and storing the count into
# kwsq_icount_cell whenever kwsq_icount_probe is entered.
#   qemu_run.sh QEMU CPU PLUGIN NM ELF
set -eu
qemu=$1 cpu=$2 plugin=$3 nm=$4 elf=$5
args=""
for s in lo:__executable_start hi:etext probe:kwsq_icount_probe cell:kwsq_icount_cell; do
    addr=$("$nm" "$elf" | awk -v s="${s#*:}" '$3 == s { print "0x" $1 }')
    if [ -z "$addr" ]; then
        echo "qemu_run.sh: $elf has no symbol ${s#*:}" >&2
        exit 1
    fi
    args="$args,${s%%:*}=$addr"
done
exec "$qemu" -cpu "$cpu" -plugin "$plugin$args" "$elf"
