#!/usr/bin/env bash
# Build the initramfs for the cgroup-v2-only test guest.
#
#   vmtest/build-initramfs.sh OUTDIR WHARF_BINARY
#
# Writes OUTDIR/initramfs.cpio.gz and OUTDIR/kernel (the path of the kernel image to
# boot, one line). The kernel is the newest one installed with its modules
# (/boot/vmlinuz-V and /lib/modules/V; Debian's linux-image-amd64), or VMTEST_KERNEL_VERSION.
# The guest gets: static busybox, the wharf binary with the shared libraries `ldd`
# lists and the loader, the kernel modules the engine needs (with their dependencies,
# from modules.dep), and the guest scripts from this directory.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-initramfs.sh OUTDIR WHARF_BINARY}
wharf=${2:?usage: build-initramfs.sh OUTDIR WHARF_BINARY}
busybox=${VMTEST_BUSYBOX:-/bin/busybox}

die() { echo "build-initramfs: $*" >&2; exit 1; }

[ -x "$wharf" ] || die "wharf binary $wharf not found or not executable: build it with cargo build -p wharf"
[ -x "$busybox" ] || die "$busybox not found: install busybox-static"
if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is not statically linked: install busybox-static"; fi
command -v cpio >/dev/null || die "cpio not found: install cpio"

# The kernel: newest version that has both an image and its modules.
if [ -n "${VMTEST_KERNEL_VERSION:-}" ]; then
  kver=$VMTEST_KERNEL_VERSION
else
  kver=$(for d in /lib/modules/*/; do v=$(basename "$d"); [ -e "/boot/vmlinuz-$v" ] && echo "$v"; done | sort -V | tail -n1)
fi
[ -n "$kver" ] && [ -e "/boot/vmlinuz-$kver" ] && [ -d "/lib/modules/$kver" ] \
  || die "no kernel with modules found under /boot and /lib/modules: install linux-image-amd64"
[ -r "/boot/vmlinuz-$kver" ] || die "/boot/vmlinuz-$kver is not readable (run as root)"

mkdir -p "$out"
stage=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,run,etc,root,newroot,usr/local/bin,vmtest,lib/modules/"$kver"}
chmod 1777 "$stage/tmp"

# busybox and its applets as symlinks (so /init can run before /proc exists).
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] && continue
  ln -sf busybox "$stage/bin/$applet"
done

# wharf, stripped of debug info (smaller initramfs, less guest memory), and its libraries.
objcopy --strip-debug "$wharf" "$stage/usr/local/bin/wharf" 2>/dev/null || cp "$wharf" "$stage/usr/local/bin/wharf"
copy_libs() {
  # Every absolute path ldd prints (libraries and the loader), copied at the same path.
  ldd "$1" 2>/dev/null | grep -o '/[^ )]*' | sort -u | while read -r lib; do
    [ -e "$stage$lib" ] && continue
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
  done
}
copy_libs "$wharf"
# nft: wharf drives its nftables table through the nft tool (package nftables).
for extra in ${VMTEST_EXTRA_BINARIES:-nft}; do
  p=$(command -v "$extra") || die "$extra not found (nft: install nftables)"
  mkdir -p "$stage$(dirname "$p")"
  cp -L "$p" "$stage$p"
  copy_libs "$p"
done

# Kernel modules, dependencies first, in load order (written to /vmtest/modules).
moddir=/lib/modules/$kver
# loop and ext4: the state root is an ext2 filesystem on a loop device (a block device,
# so io.stat has something to count). crc32c_generic: libcrc32c (nf_tables) and ext4
# have it as a soft dependency, which modules.dep does not list. The nft_* and nf_*
# modules are what wharf's nftables table uses (nat chains, masquerade, dnat, ct, fib);
# the guest has no modprobe for the kernel to autoload them.
modules=${VMTEST_MODULES:-crc32c_generic loop ext4 overlay veth bridge nf_tables \
  nf_conntrack nf_nat nft_chain_nat nft_nat nft_masq nft_ct nft_fib_ipv4}
declare -A seen=()
order=()
modpath() {  # module name -> path relative to $moddir, from modules.dep
  local n=$1 alt=${1//_/-}
  awk -F: -v a="$n" -v b="$alt" '{ f=$1; sub(".*/", "", f); sub("\\.ko.*$", "", f); if (f==a || f==b) { print $1; exit } }' "$moddir/modules.dep"
}
add_module() {  # depth-first: a module's dependencies before the module
  local rel=$1
  [ -n "${seen[$rel]:-}" ] && return 0
  seen[$rel]=1
  local deps
  deps=$(awk -F': *' -v m="$rel" '$1==m { print $2; exit }' "$moddir/modules.dep")
  for d in $deps; do add_module "$d"; done
  order+=("$rel")
}
for m in $modules; do
  if grep -qE "/$m\.ko(\.|$)" "$moddir/modules.builtin" 2>/dev/null; then continue; fi
  rel=$(modpath "$m")
  [ -n "$rel" ] || die "kernel module $m not found in $moddir/modules.dep"
  add_module "$rel"
done
: > "$stage/vmtest/modules"
for rel in "${order[@]}"; do
  name=$(basename "$rel"); name=${name%%.ko*}
  dst="$stage$moddir/$name.ko"
  case "$rel" in
    *.ko) cp "$moddir/$rel" "$dst" ;;
    *.ko.xz) xz -dc "$moddir/$rel" > "$dst" ;;
    *.ko.zst) zstd -qdc "$moddir/$rel" > "$dst" ;;
    *.ko.gz) gzip -dc "$moddir/$rel" > "$dst" ;;
    *) die "unknown module format: $rel" ;;
  esac
  echo "$moddir/$name.ko" >> "$stage/vmtest/modules"
done

# Guest scripts and a minimal /etc.
cp "$here/init" "$stage/init"
cp "$here/stage2" "$here/checks.sh" "$stage/vmtest/"
chmod 755 "$stage/init" "$stage/vmtest/stage2" "$stage/vmtest/checks.sh"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$stage/etc/group"
echo wharf-v2vm > "$stage/etc/hostname"
printf '127.0.0.1 localhost\n' > "$stage/etc/hosts"

(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -1 > "$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "/boot/vmlinuz-$kver" > "$out/kernel"
echo "build-initramfs: kernel $kver, modules: ${order[*]##*/}, initramfs $(du -h "$out/initramfs.cpio.gz" | cut -f1)" >&2
