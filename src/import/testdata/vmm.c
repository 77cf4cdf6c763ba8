/* Tiny VMM for trace captures (src/import/testdata): one thread per vCPU named "CPU <vcpu_id>/KVM",
 * like QEMU's, doing host ioctls (KVM_SET_MSRS/KVM_GET_MSRS) and KVM_RUN of a real-mode guest on its
 * own thread; KVM_SIGNAL_MSI from the main thread ("vmm"). Steps run one at a time, in a fixed order. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <errno.h>

static int kvm, vm;
static uint8_t *mem;
static struct kvm_cpuid2 *cpuid;
#define NV 3
static const int ids[NV] = {0, 1, 256};
static int vfd[NV];
static struct kvm_run *runp[NV];
static sem_t go[NV], done;
static void (*job[NV])(int);

#define CHECK(x) do { if ((x) < 0) { fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, strerror(errno)); exit(1); } } while (0)

static void set_msrs(int n, int count, uint32_t *idx, uint64_t *val) {
  struct { struct kvm_msrs h; struct kvm_msr_entry e[4]; } m = {0};
  m.h.nmsrs = count;
  for (int i = 0; i < count; i++) { m.e[i].index = idx[i]; m.e[i].data = val[i]; }
  int r = ioctl(vfd[n], KVM_SET_MSRS, &m);
  printf("vCPU %d KVM_SET_MSRS(%d) = %d\n", ids[n], count, r);
}
static uint64_t get_msr(int n, uint32_t idx) {
  struct { struct kvm_msrs h; struct kvm_msr_entry e[1]; } m = {0};
  m.h.nmsrs = 1; m.e[0].index = idx;
  int r = ioctl(vfd[n], KVM_GET_MSRS, &m);
  printf("vCPU %d KVM_GET_MSRS(%#x) = %d, %#llx\n", ids[n], idx, r, (unsigned long long)m.e[0].data);
  return m.e[0].data;
}
static void run(int n) {
  struct kvm_run *r = runp[n];
  for (int tries = 0; tries < 5; tries++) {
    int rc = ioctl(vfd[n], KVM_RUN, 0);
    if (rc < 0 && errno == EAGAIN) continue;
    CHECK(rc);
    if (r->exit_reason == KVM_EXIT_IO) { printf("vCPU %d exit: out port %#x\n", ids[n], r->io.port); if (r->io.port != 0x12) return; continue; }
    printf("vCPU %d exit reason %d\n", ids[n], r->exit_reason); exit(1);
  }
}

static void *vcpu_thread(void *arg) {
  int n = (int)(long)arg;
  char name[16]; snprintf(name, sizeof name, "CPU %d/KVM", ids[n]);
  prctl(PR_SET_NAME, name);
  for (;;) { sem_wait(&go[n]); job[n](n); sem_post(&done); }
  return 0;
}
static void on(int n, void (*f)(int)) { job[n] = f; sem_post(&go[n]); sem_wait(&done); }

static void create(int n) {
  CHECK(vfd[n] = ioctl(vm, KVM_CREATE_VCPU, ids[n]));
  CHECK(ioctl(vfd[n], KVM_SET_CPUID2, cpuid));
  int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  runp[n] = mmap(0, sz, PROT_READ | PROT_WRITE, MAP_SHARED, vfd[n], 0);
}
static void x2apic_on(int n) { /* what a VMM restoring an x2APIC guest does: APICBASE then SPIV */
  uint32_t i[] = {0x1b, 0x80f}; uint64_t v[] = {0xfee00c00, 0x1ff}; set_msrs(n, 2, i, v);
}
static void guest_setup(int n) {
  struct kvm_sregs s; CHECK(ioctl(vfd[n], KVM_GET_SREGS, &s));
  s.cs.base = 0; s.cs.selector = 0; s.ds.base = 0; s.ds.selector = 0; s.ss.base = 0; s.ss.selector = 0;
  CHECK(ioctl(vfd[n], KVM_SET_SREGS, &s));
  struct kvm_regs r = {0}; r.rip = 0x1000; r.rsp = 0x8000; r.rflags = 2;
  CHECK(ioctl(vfd[n], KVM_SET_REGS, &r));
  /* relocate the xAPIC page below 1 MiB, outside the memslot, so real-mode code reaches it */
  uint32_t i[] = {0x1b}; uint64_t v[] = {0x20900}; set_msrs(n, 1, i, v);
  run(n); /* until out 0x10: SPIV written, sti done */
}
static void guest_run(int n) { run(n); }
static void ipis(int n) {
  uint32_t i[] = {0x830}; uint64_t v[] = {(256ull << 32) | 0x45}; set_msrs(n, 1, i, v); /* to vCPU 256 */
  v[0] = (0x50ull << 32) | 0x46; set_msrs(n, 1, i, v);                                   /* to nobody */
  get_msr(n, 0x802);
}
static void reads(int n) { get_msr(n, 0x802); get_msr(n, 0x808); }
static void msi(uint32_t lo, uint32_t hi, uint32_t data) {
  struct kvm_msi m = { .address_lo = lo, .address_hi = hi, .data = data };
  int r = ioctl(vm, KVM_SIGNAL_MSI, &m);
  printf("KVM_SIGNAL_MSI(%#x %#x %#x) = %d %s\n", lo, hi, data, r, r < 0 ? strerror(errno) : "");
}

int main(void) {
  prctl(PR_SET_NAME, "vmm");
  CHECK(kvm = open("/dev/kvm", O_RDWR));
  CHECK(vm = ioctl(kvm, KVM_CREATE_VM, 0));
  CHECK(ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000));
  CHECK(ioctl(vm, KVM_CREATE_IRQCHIP, 0));
  struct kvm_enable_cap cap = { .cap = KVM_CAP_X2APIC_API, .args = { KVM_X2APIC_API_USE_32BIT_IDS } };
  CHECK(ioctl(vm, KVM_ENABLE_CAP, &cap));
  mem = mmap(0, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct kvm_userspace_memory_region reg = { .slot = 0, .guest_phys_addr = 0, .memory_size = 0x10000, .userspace_addr = (uint64_t)mem };
  CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg));
  static const uint8_t code[] = {
    0xb8, 0x00, 0x20, 0x8e, 0xd8,                                     /* mov ax,0x2000; mov ds,ax */
    0x66, 0xc7, 0x06, 0xf0, 0x00, 0xff, 0x01, 0x00, 0x00,             /* mov dword [0xf0],0x1ff (SPIV) */
    0x31, 0xc0, 0x8e, 0xd8,                                           /* xor ax,ax; mov ds,ax */
    0xfb, 0xe6, 0x10,                                                 /* sti; out 0x10,al */
    0x90, 0xe6, 0x11, 0xf4 };                                         /* nop; out 0x11,al; hlt */
  static const uint8_t handler[] = {
    0xb8, 0x00, 0x20, 0x8e, 0xd8,                                     /* mov ax,0x2000; mov ds,ax */
    0x66, 0xc7, 0x06, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00,             /* mov dword [0xb0],0 (EOI) */
    0x31, 0xc0, 0x8e, 0xd8, 0xe6, 0x12, 0xcf };                       /* xor ax,ax; mov ds,ax; out 0x12,al; iret */
  memcpy(mem + 0x1000, code, sizeof code);
  memcpy(mem + 0x1100, handler, sizeof handler);
  mem[0x30 * 4] = 0x00; mem[0x30 * 4 + 1] = 0x11; /* IVT[0x30] = 0000:1100 */
  cpuid = calloc(1, sizeof *cpuid + 256 * sizeof(struct kvm_cpuid_entry2));
  cpuid->nent = 256;
  CHECK(ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid));
  for (int n = 0; n < NV; n++) { sem_init(&go[n], 0, 0); pthread_t t; pthread_create(&t, 0, vcpu_thread, (void *)(long)n); }
  sem_init(&done, 0, 0);
  for (int n = 0; n < NV; n++) on(n, create);
  on(1, x2apic_on);
  on(2, x2apic_on);
  on(0, guest_setup);
  msi(0xfee00000, 0, 0x30);        /* Fixed 0x30 to APIC ID 0 (vCPU 0), injected at its next KVM_RUN */
  on(0, guest_run);                /* injection, the guest's handler EOIs by MMIO, out 0x12, out 0x11 */
  on(1, ipis);
  on(2, reads);
  msi(0xfee00000, 0x100, 0x47);    /* destination 256: address_hi carries bits 31:8 (32-bit IDs) */
  msi(0xfee50000, 0, 0x48);        /* destination 0x50: nobody */
  return 0;
}
