import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkExpectations } from '/work/main/src/scenario/expect';
import { runScenario } from '/work/main/src/scenario/runner';
import { parseScenario } from '/work/main/src/scenario/schema';
import { importTrace } from '/work/main/src/import/traceCmd';
const root = '/work/main/src/import/testdata/captured';
const dirs = process.argv.slice(3);
const f = process.argv[2];
for (const dir of dirs) {
  const { scenario: doc, report } = importTrace(readFileSync(join(root, dir, f), 'utf8'));
  const scenario = parseScenario(JSON.parse(JSON.stringify(doc)));
  const result = runScenario(scenario);
  const mm = checkExpectations(scenario, result);
  const kernel = JSON.parse(readFileSync(join(root, dir, 'result.json'), 'utf8'));
  console.log('=====', dir, f);
  console.log('vcpus', JSON.stringify(doc.vm), 'unresolved', JSON.stringify(report.unresolvedThreads));
  console.log('notUnderstood', JSON.stringify(report.notUnderstood));
  console.log('warnings', JSON.stringify(report.warnings, null, 1));
  console.log('skipped', report.skipped.map((s) => `${s.line} ${s.event}: ${s.reason}`).join('\n  '));
  doc.steps.forEach((s, i) => { const { note, ...rest } = s as any; console.log(i, JSON.stringify(rest), '=>', JSON.stringify({ ok: (result.steps[i] as any).ok, delivered: (result.steps[i] as any).delivered, value: (result.steps[i] as any).value, error: (result.steps[i] as any).error })); });
  console.log('expectFinal', JSON.stringify(doc.expectFinal));
  console.log('mismatches', JSON.stringify(mm));
  console.log('kernel deliveries', JSON.stringify(kernel.steps.map((s: any, i: number) => s.delivered ? [i, s.op, s.delivered.map((d: any) => `${d.vcpu}:${d.mode}:${d.vector}`), s.deliveredInferred] : null).filter(Boolean)));
}
