#!/bin/sh
# Regenerates the test data in this folder (run from the repository root):
#   sh src/scenario/testdata/lapic/make.sh
set -e
D=src/scenario/testdata/lapic
# vcpu1.bin: vCPU 1's KVM_GET_LAPIC image straight from the emulation core (runner.ts createVm).
npx tsx -e "
import { writeFileSync } from 'node:fs';
import { createVm } from './src/scenario/runner';
import { imageBytes } from './src/scenario/lapicImage';
const vm = createVm({ vcpus: 2 });
writeFileSync('$D/vcpu1.bin', imageBytes(vm.getLapic(vm.vcpu(1)!)));
"
# zero.bin: an all-zero image (every line after the first squeezed).
head -c 1024 /dev/zero > $D/zero.bin
for n in vcpu1 zero; do
  hexdump -C $D/$n.bin > $D/$n.hexdump-C.txt
  hexdump -Cv $D/$n.bin > $D/$n.hexdump-Cv.txt
  xxd $D/$n.bin > $D/$n.xxd.txt
  od -An -tx1 $D/$n.bin > $D/$n.od-An-tx1.txt
  od -An -tx1 -v $D/$n.bin > $D/$n.od-An-tx1-v.txt
  od -Ax -tx1 $D/$n.bin > $D/$n.od-Ax-tx1.txt
  od -Ax -tx1 -v $D/$n.bin > $D/$n.od-Ax-tx1-v.txt
  od -tx1 $D/$n.bin > $D/$n.od-tx1.txt
  xxd -a $D/$n.bin > $D/$n.xxd-a.txt
  od -Ad -tx1 $D/$n.bin > $D/$n.od-Ad-tx1.txt
done
