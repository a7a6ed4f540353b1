#!/usr/bin/env bash
# Boot the test guest built by build-initramfs.sh; the guest's console is on stdout.
#
#   vmtest/boot.sh OUTDIR
#
# Software emulation (TCG; KVM is not usable on these machines), no network device:
# the guest never talks to the outside. The guest powers off when its checks are done;
# a kernel panic reboots, and -no-reboot turns that into an exit too.
set -euo pipefail
out=${1:?usage: boot.sh OUTDIR}
kernel=$(cat "$out/kernel")
exec qemu-system-x86_64 \
  -accel tcg \
  -m "${VMTEST_MEM:-1024}" \
  -smp "${VMTEST_SMP:-1}" \
  -kernel "$kernel" \
  -initrd "$out/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet loglevel=1 panic=-1 tsc=unstable clocksource=hpet ${VMTEST_APPEND:-}" \
  -nic none \
  -nographic \
  -no-reboot
