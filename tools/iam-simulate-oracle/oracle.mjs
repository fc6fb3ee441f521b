#!/usr/bin/env node
// Differential-test oracle for irsa-policy: runs @cloud-copilot/iam-simulate (AGPL-3.0-or-later)
// as a separate process. Nothing of iam-simulate is copied into irsa; this file only calls its
// public API (`runSimulation`) through the package installed by scripts/deps/iam-simulate.sh.
//
// Input: JSON lines on stdin, each a case in the `irsa policy eval` input shape:
//   {"request": {"action", "resource", "principal", "resourceAccount"?,
//                "context": {KEY: "v" | ["v1", "v2"]}},
//    "identityPolicies": [POLICY...], "resourcePolicy": POLICY?,
//    "permissionBoundaries": [POLICY...]?, "sessionPolicies": [POLICY...]?}
//
// Modes:
//   node oracle.mjs            one output line per input line:
//                              {"decision": "Allow"|"ExplicitDeny"|"ImplicitDeny"}
//                              plus "ignoredContextKeys": [...] when iam-simulate dropped keys
//                              that do not apply to the action, or {"error": "..."} when
//                              iam-simulate refused the case.
//   node oracle.mjs bench [--iterations N] [--warmup N]
//                              times N evaluations of each input case in-process and prints one
//                              line per case: {"case": i, "mode": ..., "ns_per_decision": ...}
//                              for mode "runSimulation" (raw policy documents, validated and
//                              parsed on every call, as the public API does) and
//                              "prevalidated" (documents validated once up front).

import { createInterface } from 'node:readline';
import { createValidatedPolicy, validateIdentityPolicy, validateResourcePolicy } from '@cloud-copilot/iam-policy';
import { runSimulation } from '@cloud-copilot/iam-simulate';

const DECISIONS = {
  Allowed: 'Allow',
  ExplicitlyDenied: 'ExplicitDeny',
  ImplicitlyDenied: 'ImplicitDeny'
};

const DEFAULT_ACCOUNT = '111122223333';

/** The account of an ARN (5th field), or undefined when it is empty or not an ARN. */
function arnAccount(arn) {
  if (typeof arn !== 'string' || !arn.startsWith('arn:')) return undefined;
  const account = arn.split(':')[4];
  return account ? account : undefined;
}

/**
 * Turns an irsa eval case into an iam-simulate Simulation. Throws on input the oracle cannot
 * express (iam-simulate takes at most one session policy).
 */
export function toSimulation(c, prevalidate = false) {
  if (c === null || typeof c !== 'object') throw new Error('case is not an object');
  const req = c.request;
  if (!req || typeof req.action !== 'string' || typeof req.resource !== 'string') {
    throw new Error('request.action and request.resource must be strings');
  }
  const principal = typeof req.principal === 'string' ? req.principal : `arn:aws:iam::${DEFAULT_ACCOUNT}:root`;
  const identity = (p) => (prevalidate ? createValidatedPolicy(p, validateIdentityPolicy) : p);
  const sessionPolicies = c.sessionPolicies ?? [];
  if (!Array.isArray(sessionPolicies) || sessionPolicies.length > 1) {
    throw new Error('iam-simulate supports at most one session policy');
  }
  const sim = {
    request: {
      principal,
      action: req.action,
      resource: {
        resource: req.resource,
        accountId:
          (typeof req.resourceAccount === 'string' ? req.resourceAccount : undefined) ??
          arnAccount(req.resource) ??
          arnAccount(principal) ??
          DEFAULT_ACCOUNT
      },
      contextVariables: req.context ?? {}
    },
    identityPolicies: (c.identityPolicies ?? []).map((policy, i) => ({ name: `identity-${i}`, policy: identity(policy) })),
    serviceControlPolicies: [],
    resourceControlPolicies: []
  };
  if (c.resourcePolicy) {
    sim.resourcePolicy = prevalidate ? createValidatedPolicy(c.resourcePolicy, validateResourcePolicy) : c.resourcePolicy;
  }
  if (c.permissionBoundaries && c.permissionBoundaries.length > 0) {
    sim.permissionBoundaryPolicies = c.permissionBoundaries.map((policy, i) => ({ name: `boundary-${i}`, policy: identity(policy) }));
  }
  if (sessionPolicies.length === 1) {
    sim.sessionPolicy = identity(sessionPolicies[0]);
  }
  return sim;
}

/** Evaluates one case; returns the output object. */
export async function evaluateCase(c) {
  let sim;
  try {
    sim = toSimulation(c);
  } catch (e) {
    return { error: String(e.message ?? e) };
  }
  const result = await runSimulation(sim, {});
  if (result.resultType === 'error') {
    return { error: JSON.stringify(result.errors) };
  }
  const decision = DECISIONS[result.overallResult];
  if (!decision) return { error: `unknown result \`${result.overallResult}\`` };
  const out = { decision };
  const ignored = result.resultType === 'single' ? result.result.ignoredContextKeys : undefined;
  if (ignored && ignored.length > 0) out.ignoredContextKeys = ignored;
  if (result.resultType !== 'single') out.resultType = result.resultType;
  return out;
}

async function readCases() {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const lines = [];
  for await (const line of rl) {
    if (line.trim() !== '') lines.push(line);
  }
  return lines;
}

async function evalMode() {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    let out;
    try {
      out = await evaluateCase(JSON.parse(line));
    } catch (e) {
      out = { error: String(e.message ?? e) };
    }
    // One line per case, in input order: the caller pairs lines by position.
    process.stdout.write(JSON.stringify(out) + '\n');
  }
}

function flag(args, name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer`);
  return n;
}

async function benchMode(args) {
  const iterations = flag(args, '--iterations', 20000);
  const warmup = flag(args, '--warmup', Math.min(iterations, 2000));
  const cases = (await readCases()).map((l) => JSON.parse(l));
  for (const [i, c] of cases.entries()) {
    for (const mode of ['runSimulation', 'prevalidated']) {
      const sim = toSimulation(c, mode === 'prevalidated');
      const first = await runSimulation(sim, {});
      if (first.resultType === 'error') throw new Error(`case ${i}: ${JSON.stringify(first.errors)}`);
      for (let k = 0; k < warmup; k++) await runSimulation(sim, {});
      const start = process.hrtime.bigint();
      for (let k = 0; k < iterations; k++) await runSimulation(sim, {});
      const ns = Number(process.hrtime.bigint() - start) / iterations;
      process.stdout.write(
        JSON.stringify({
          case: i,
          name: c.name ?? null,
          mode,
          decision: DECISIONS[first.overallResult],
          iterations,
          ns_per_decision: Math.round(ns)
        }) + '\n'
      );
    }
  }
}

const args = process.argv.slice(2);
const main = args[0] === 'bench' ? benchMode(args.slice(1)) : evalMode();
main.catch((e) => {
  process.stderr.write(`oracle: ${e.stack ?? e}\n`);
  process.exit(2);
});
