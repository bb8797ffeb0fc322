#!/usr/bin/env bash
# tests/vm/run.sh — the kernel-matrix lane: runs test assemblies built on this host inside a
# Debian kernel booted under qemu, where cgroup v2 (all controllers) and AppArmor are real.
#
#   tests/vm/run.sh [--project DIR]... [--apparmor DIR] [--timeout SECONDS] [--allow-skipped]
#                   [--command CMD] [FILTER]...
#
# FILTERs are `dotnet test --filter` expressions, joined with "|". Without any, the lane's own
# set: the cgroup v2 driver tests (limits, and the device/address/bind BPF programs) and the
# AppArmor tests. --project (repeatable) names the test
# projects to build and run (default: tests/Supervisor.Cgroups.Tests and tests/Supervisor.Lsm.Tests);
# --apparmor a directory of profiles loaded in the guest (default: tests/vm/apparmor). A test
# that skips in the guest fails the lane, unless tests/vm/expected-skips names it or
# --allow-skipped is given. --command CMD runs CMD (sh -c, in the guest's root, output shown)
# instead of dotnet test: for looking around the guest.
#
# Steps: build the test projects on the host (nothing compiles in the guest); fetch Debian's
# kernel package once into tests/vm/.cache; pack busybox-static, the 9p/virtio/overlay/ext4
# modules and tests/vm/init into an initramfs; copy the built test directories onto an ext4 disk
# image (the guest binds them over their paths, on a real block device); boot qemu (TCG:
# /dev/kvm hangs on this machine kind) with the host root exported read-only and a temp
# directory exported writable for the results; print the guest's test output; exit with dotnet test's status. A missing qemu, busybox-static or kernel
# package is a failure (exit 2) with the reason, never a silent skip. A hard timeout bounds the
# run, and qemu is killed by its pid on every way out.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=$here/.cache
me="tests/vm/run.sh"

die() {
    echo "$me: $*" >&2
    exit 2
}

projects=()
apparmor_dir=$here/apparmor
timeout_s=1200
allow_skipped=0
command=
filters=()
while [ $# -gt 0 ]; do
    case $1 in
        --project) projects+=("$2"); shift 2 ;;
        --apparmor) apparmor_dir=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --allow-skipped) allow_skipped=1; shift ;;
        --command) command=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
        --*) die "unknown option '$1' (see --help)" ;;
        *) filters+=("$1"); shift ;;
    esac
done
[ ${#projects[@]} -gt 0 ] || projects=(tests/Supervisor.Cgroups.Tests tests/Supervisor.Lsm.Tests)
[ ${#filters[@]} -gt 0 ] || filters=("FullyQualifiedName~RealV2CgroupTests" "FullyQualifiedName~RealV2DeviceNetworkTests" "FullyQualifiedName~Supervisor.Lsm.Tests")
filter=$(IFS='|'; echo "${filters[*]}")
[[ "$timeout_s" =~ ^[0-9]+$ ]] || die "--timeout wants seconds, got '$timeout_s'"

# --- What the lane needs on the host ------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "needs root (qemu's 9p export of / must read every file as its owner)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found: apt-get install qemu-system-x86"
command -v cpio >/dev/null || die "cpio not found: apt-get install cpio"
command -v dotnet >/dev/null || die "dotnet not found"
busybox=/bin/busybox
[ -x $busybox ] || die "$busybox not found: apt-get install busybox-static"
# A dynamically linked busybox would find no libc in the initramfs.
if ldd $busybox >/dev/null 2>&1; then
    die "$busybox is dynamically linked: apt-get install busybox-static (it replaces busybox)"
fi
profiles=()
if [ -n "$apparmor_dir" ]; then
    [ -d "$apparmor_dir" ] || die "no AppArmor profile directory '$apparmor_dir'"
    for f in "$apparmor_dir"/*; do
        [ -f "$f" ] && profiles+=("$(readlink -f "$f")")
    done
    [ ${#profiles[@]} -eq 0 ] || [ -x /sbin/apparmor_parser ] \
        || die "/sbin/apparmor_parser not found (the guest runs the host's): apt-get install apparmor"
fi

work=$(mktemp -d /tmp/supervisor-vm.XXXXXX)
qemu_pid=
cleanup() {
    local status=$?
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        # Only the qemu this run started, by the pid qemu wrote itself.
        kill -KILL "$qemu_pid" 2>/dev/null || true
    fi
    if [ -n "${timeout_pid:-}" ]; then
        wait "$timeout_pid" 2>/dev/null || true
    fi
    if [ -n "${tail_pid:-}" ]; then
        kill "$tail_pid" 2>/dev/null || true
        wait "$tail_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. Build the test assemblies on the host ---------------------------------------------
tests=()
for p in "${projects[@]}"; do
    dir=$(cd "$repo" && readlink -f "$p")
    [ -d "$dir" ] || die "no test project directory '$p'"
    name=$(basename "$dir")
    [ -f "$dir/$name.csproj" ] || die "no $name.csproj in '$p'"
    echo "$me: building $name (Release) on the host" >&2
    dotnet build "$dir/$name.csproj" -c Release --nologo -v quiet >"$work/build.log" 2>&1 \
        || { cat "$work/build.log" >&2; die "building $name failed"; }
    dll=$dir/bin/Release/net10.0/$name.dll
    [ -f "$dll" ] || die "the build left no '$dll'"
    tests+=("$dll")
done

# --- 2. Debian's kernel, fetched once ------------------------------------------------------
mkdir -p "$cache"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1 || true)
if [ -z "$pkg" ]; then
    # No apt index (offline CI): a kernel already in the cache still does.
    pkg=$(cd "$cache" && ls -d linux-image-*/.complete 2>/dev/null | head -n 1 | cut -d/ -f1 || true)
    [ -n "$pkg" ] || die "cannot name Debian's kernel package: 'apt-cache depends linux-image-amd64' gave nothing (run apt-get update) and $cache holds no kernel"
fi
kroot=$cache/$pkg
if [ ! -f "$kroot/.complete" ]; then
    echo "$me: fetching $pkg into $cache" >&2
    rm -rf "$kroot" "$cache/download"
    mkdir -p "$cache/download"
    chmod 0755 "$cache/download" # apt's _apt user writes the download when it can
    (cd "$cache/download" && apt-get download "$pkg" >"$work/apt.log" 2>&1) \
        || { cat "$work/apt.log" >&2; die "apt-get download $pkg failed"; }
    dpkg-deb -x "$cache/download/$pkg"_*.deb "$kroot" || die "dpkg-deb -x of $pkg failed"
    rm -rf "$cache/download"
    touch "$kroot/.complete"
fi
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$vmlinuz" ] || die "$pkg has no boot/vmlinuz-*"
kver=${vmlinuz##*/vmlinuz-}
moddir=$kroot/lib/modules/$kver

# --- 3. The initramfs -----------------------------------------------------------------------
# Modules by name; each one's dependencies (its modinfo "depends=") are loaded before it.
declare -A modpath=()
while IFS= read -r f; do
    n=${f##*/}; n=${n%.ko}; modpath[${n//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko')
order=()
declare -A seen=()
add_module() {
    local m=${1//-/_} dep deps
    [ -z "${seen[$m]:-}" ] || return 0
    seen[$m]=1
    [ -n "${modpath[$m]:-}" ] || die "$pkg has no module '$m'"
    deps=$(tr '\0' '\n' <"${modpath[$m]}" | sed -n 's/^depends=//p' | head -n 1)
    for dep in ${deps//,/ }; do
        add_module "$dep"
    done
    order+=("$m")
}
# virtio_pci + 9pnet_virtio + 9p: the two exports; overlay: a writable view of the host root;
# bfq: the io.bfq.weight files cgroup v2 offers with it; virtio_blk, ext4 and crc32c (requested by
# ext4 through the crypto API, which would need modprobe): the test disk.
for m in virtio_pci 9pnet_virtio 9p overlay bfq virtio_blk crc32c_generic ext4; do
    add_module "$m"
done

initrd_dir=$work/initramfs
mkdir -p "$initrd_dir"/{bin,dev,proc,sys,modules}
cp "$busybox" "$initrd_dir/bin/busybox"
cp "$here/init" "$initrd_dir/init"
chmod 0755 "$initrd_dir/init"
for m in "${order[@]}"; do
    cp "${modpath[$m]}" "$initrd_dir/modules/$m.ko"
done
printf '%s\n' "${order[@]}" >"$initrd_dir/modules.order"
(cd "$initrd_dir" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

# --- 4. The results export and the guest's parameters -------------------------------------
results=$work/results
mkdir -p "$results"
{
    printf 'LANE_TESTS=%q\n' "${tests[*]}"
    printf 'LANE_FILTER=%q\n' "$filter"
    printf 'LANE_APPARMOR=%q\n' "${profiles[*]:-}"
    printf 'LANE_COMMAND=%q\n' "$command"
} >"$results/lane.env"
# busybox sh reads lane.env; %q of plain paths and filter expressions is valid POSIX sh quoting.

# The test assemblies' directories on an ext4 disk (directory I = the I-th assembly's), which the
# guest binds over their paths: a test that needs a real block device under its binary has one.
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found: apt-get install e2fsprogs"
disk_dir=$work/disk
i=0
for t in "${tests[@]}"; do
    mkdir -p "$disk_dir/$i"
    cp -a "$(dirname "$t")/." "$disk_dir/$i/"
    i=$((i + 1))
done
mkfs.ext4 -q -F -L vmlane -d "$disk_dir" "$work/disk.img" 1G >"$work/mkfs.log" 2>&1 \
    || { cat "$work/mkfs.log" >&2; die "mkfs.ext4 of the test disk failed"; }
rm -rf "$disk_dir"

# --- 5. Boot ---------------------------------------------------------------------------------
echo "$me: booting $pkg under qemu (TCG, 4 GiB, 2 CPUs), filter: $filter" >&2
start=$(date +%s)
# -accel tcg: /dev/kvm exists here but a KVM guest hangs after "Booting from ROM". Under TCG,
# -cpu max boots and gives the guest the SSE4/AVX features .NET's JIT uses on real hosts.
# multidevs=remap: the host root spans several file systems (/, /proc, /sys, /dev …) whose inode
# numbers collide; without it the guest took /proc and /sys for one directory. The console goes
# to a file (no raw-mode terminal left behind when qemu is killed) and is shown live by tail.
: >"$work/console.log"
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
    -accel tcg -cpu max -m 4G -smp 2 \
    -nodefaults -no-user-config -display none -no-reboot -nic none \
    -pidfile "$work/qemu.pid" \
    -chardev file,id=con,path="$work/console.log" -serial chardev:con \
    -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 apparmor=1 security=apparmor" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs local,path="$results",mount_tag=results,security_model=none \
    -drive file="$work/disk.img",if=virtio,format=raw,cache=unsafe \
    </dev/null >"$work/qemu.log" 2>&1 &
timeout_pid=$!
for _ in $(seq 100); do
    [ -s "$work/qemu.pid" ] && break
    kill -0 $timeout_pid 2>/dev/null || break
    sleep 0.1
done
qemu_pid=$(cat "$work/qemu.pid" 2>/dev/null || true)
tail -n +1 -f --pid="$timeout_pid" "$work/console.log" &
tail_pid=$!
qemu_status=0
wait "$timeout_pid" || qemu_status=$?
qemu_pid=
wait "$tail_pid" 2>/dev/null || true
tail_pid=
elapsed=$(( $(date +%s) - start ))

if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
    cat "$results/init.log" 2>/dev/null >&2 || true
    die "the guest did not power off within ${timeout_s}s; qemu was killed"
fi
if [ "$qemu_status" -ne 0 ]; then
    cat "$work/qemu.log" >&2
    die "qemu exited with status $qemu_status"
fi
if [ ! -f "$results/status" ]; then
    echo "--- guest init log ---" >&2
    cat "$results/init.log" 2>/dev/null >&2 || echo "(none: the guest never mounted the results export)" >&2
    die "the guest powered off without a test status"
fi
status=$(cat "$results/status")
if [ "$status" -eq 125 ]; then
    echo "--- guest init log ---" >&2
    cat "$results/init.log" >&2
    die "the guest could not run the tests (see its init log above)"
fi
if [ "$status" -ne 0 ]; then
    echo "--- guest init log ---"
    cat "$results/init.log" 2>/dev/null || true
    echo "--- guest kernel log (last 40 lines) ---"
    tail -n 40 "$results/dmesg.txt" 2>/dev/null || true
fi
# The summary from the trx files' test results (their <Counters> leave skipped tests out).
results_of() { cat "$results"/trx/*.trx 2>/dev/null | grep -o '<UnitTestResult [^>]*>' | grep "outcome=\"$1\"" || true; }
count() { results_of "$1" | grep -c . || true; }
passed=$(count Passed)
failed=$(( $(count Failed) + $(count Error) + $(count Timeout) + $(count Aborted) ))
skipped_names=$(results_of NotExecuted | sed -n 's/.* testName="\([^"]*\)".*/\1/p' | sed 's/&quot;/"/g; s/&amp;/\&/g' | sort -u)
skipped=$(printf '%s' "$skipped_names" | grep -c . || true)
echo "vm lane ($kver, ${elapsed}s in the guest): $passed passed, $failed failed, $skipped skipped; dotnet test exited $status"
if [ -n "$command" ]; then
    exit "$status"
fi
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
    echo "$me: no test passed in the guest: the filter '$filter' matched nothing that ran" >&2
    exit 1
fi
# The guest is the one place these tests can run: a skip there is a gap, not a pass, unless
# tests/vm/expected-skips says why that test cannot run on this kind of host at all.
if [ "$status" -eq 0 ] && [ "$allow_skipped" -eq 0 ]; then
    expected=$(sed 's/#.*//; s/[[:space:]]*$//; /^$/d' "$here/expected-skips" 2>/dev/null | sort -u)
    unexpected=$(comm -23 <(printf '%s\n' "$skipped_names" | sed '/^$/d') <(printf '%s\n' "$expected" | sed '/^$/d'))
    if [ -n "$unexpected" ]; then
        echo "$me: these tests skipped in the guest, where the lane needs them to run (reasons in the [SKIP] lines above; tests/vm/expected-skips lists the skips that are by design, --allow-skipped accepts any):" >&2
        printf '  %s\n' $unexpected >&2
        exit 1
    fi
fi
exit "$status"
