#!/bin/sh
# Re-captures the real-KVM test data in src/import/testdata/captured/ (see its README.md), one
# directory per fixture of src/scenario/fixtures/, named after it. Needs root, /dev/kvm and trace-cmd.
#   sh scripts/capture-testdata.sh              # every directory below
#   sh scripts/capture-testdata.sh FIXTURE...   # only these (a new name adds a directory)
set -e
cd "$(dirname "$0")/.."
D=src/import/testdata/captured
[ $# -gt 0 ] || set -- kvm-create-vcpu-eexist-rebuilds-map kvm-pv-unhalted selftest-xapic-state-x2apic-id selftest-xapic-ipi kut-smp-init-sipi-allbut kvm-aliased-ids-32bit selftest-xapic-state-icr-x2apic
for name in "$@"; do
  rm -rf "$D/$name"   # a capture refuses a non-empty directory
  npm run -s capture -- "src/scenario/fixtures/$name.json" --out "$D/$name"
  # trace.dat is about 1 MB (trace-cmd stores kallsyms and every event format in it) and no test
  # reads it: report.txt and report-l.txt are trace-cmd's text of it.
  rm "$D/$name/trace.dat"
done
