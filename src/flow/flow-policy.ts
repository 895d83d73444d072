/**
 * Flow control policy (`routing.flow`): classes of callers, each with a priority and optional
 * limits, and when a metastore counts as under pressure. Part of the routing map, so it is
 * validated with it and reloads with it.
 */
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { globToRegExp } from '../routing/glob';
import type { MethodKind } from '../hms/method-entry';

export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = typeof PRIORITIES[number];

const METHOD_KINDS = ['read', 'write', 'session', 'txn', 'global', 'unknown'] as const;

const classSchema = z.strictObject({
  /** Shown in metrics, logs and the throttled error. */
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'class names are letters, digits, _ and -'),
  priority: z.enum(PRIORITIES),
  /** set_ugi user names or globs; the class matches any of them. */
  users: z.array(z.string().min(1)).optional(),
  /** Client addresses (IPv4/IPv6 CIDR blocks or single addresses). */
  cidrs: z.array(z.string().min(1)).optional(),
  /** Method kinds from the catalog (read, write, session, txn, global, unknown). */
  kinds: z.array(z.enum(METHOD_KINDS)).optional(),
  /** Calls of this class in flight at once, router-wide. */
  maxConcurrent: z.number().int().min(1).optional(),
  /** Token bucket: calls per second, and the burst it allows (default: one second's worth). */
  ratePerSecond: z.number().positive().optional(),
  burst: z.number().int().min(1).optional(),
  /** How long a call of this class may wait for admission before it is refused. */
  maxWaitMs: z.number().int().min(0).default(2000),
});

const pressureSchema = z.strictObject({
  /** Calls in flight to the metastore at which it is under pressure. */
  maxInFlight: z.number().int().min(1).default(64),
  /** Under pressure too while the recent call latency (moving average) is above this. */
  latencyMs: z.number().positive().optional(),
  /** Low-priority calls are admitted only below this share of maxInFlight (room kept for others). */
  lowShare: z.number().gt(0).max(1).default(0.5),
});

export const flowSchema = z.strictObject({
  /** First matching class wins; a class matches when every criterion it names matches. */
  classes: z.array(classSchema).default([]),
  /** The class of calls no class matches. */
  defaultClass: z.strictObject({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/).default('default'),
    priority: z.enum(PRIORITIES).default('normal'),
    maxWaitMs: z.number().int().min(0).default(2000),
  }).prefault({}),
  /** For every metastore, unless `perMetastore` names it. */
  pressure: pressureSchema.prefault({}),
  perMetastore: z.record(z.string(), pressureSchema).default({}),
});

export type FlowInput = z.infer<typeof flowSchema>;
export type PressureSettings = z.infer<typeof pressureSchema>;

export interface FlowClass {
  readonly name: string;
  readonly priority: Priority;
  readonly maxConcurrent: number | null;
  readonly ratePerSecond: number | null;
  readonly burst: number;
  readonly maxWaitMs: number;
  /** Whether a call from this caller is in the class. */
  matches(caller: Caller): boolean;
}

export interface Caller {
  readonly user: string | null;
  /** The client's address as the socket reports it (IPv4-mapped IPv6 included). */
  readonly address: string;
  readonly kind: MethodKind | 'unknown';
}

export interface CompiledFlow {
  readonly classes: readonly FlowClass[];
  readonly defaultClass: FlowClass;
  pressureFor(metastore: string): PressureSettings;
}

/** Compiles a validated flow section; problems (bad CIDRs, unknown metastores) are appended. */
export function compileFlow(input: FlowInput, metastoreNames: readonly string[], problems: string[]): CompiledFlow {
  const classes = input.classes.map((c, i) => compileClass(c, `flow.classes.${i}`, problems));
  const seen = new Map<string, number>();
  input.classes.forEach((c, i) => {
    const first = seen.get(c.name);
    if (first !== undefined) problems.push(`flow.classes.${i}.name: class '${c.name}' is already defined by flow.classes.${first}`);
    seen.set(c.name, i);
  });
  for (const name of Object.keys(input.perMetastore)) {
    if (!metastoreNames.includes(name)) problems.push(`flow.perMetastore.${name}: unknown metastore '${name}' (known: ${metastoreNames.join(', ')})`);
  }
  const d = input.defaultClass;
  const defaultClass: FlowClass = { name: d.name, priority: d.priority, maxConcurrent: null, ratePerSecond: null, burst: 1, maxWaitMs: d.maxWaitMs, matches: () => true };
  return {
    classes,
    defaultClass,
    pressureFor: (metastore) => input.perMetastore[metastore] ?? input.pressure,
  };
}

function compileClass(c: FlowInput['classes'][number], at: string, problems: string[]): FlowClass {
  const users = c.users?.map((u) => globToRegExp(u));
  let addresses: BlockList | null = null;
  if (c.cidrs !== undefined) {
    addresses = new BlockList();
    c.cidrs.forEach((cidr, j) => {
      const [net, bits] = cidr.split('/');
      const family = isIP(net ?? '');
      const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
      if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
        problems.push(`${at}.cidrs.${j}: '${cidr}' is not an IPv4 or IPv6 address or CIDR block (e.g. 10.0.0.0/8)`);
        return;
      }
      addresses!.addSubnet(net!, prefix, family === 6 ? 'ipv6' : 'ipv4');
    });
  }
  if (c.burst !== undefined && c.ratePerSecond === undefined) problems.push(`${at}.burst: burst needs ratePerSecond`);
  const kinds = c.kinds === undefined ? null : new Set<string>(c.kinds);
  return {
    name: c.name,
    priority: c.priority,
    maxConcurrent: c.maxConcurrent ?? null,
    ratePerSecond: c.ratePerSecond ?? null,
    burst: c.burst ?? Math.max(1, Math.ceil(c.ratePerSecond ?? 1)),
    maxWaitMs: c.maxWaitMs,
    matches(caller) {
      if (kinds !== null && !kinds.has(caller.kind)) return false;
      if (users !== undefined && (caller.user === null || !users.some((re) => re.test(caller.user!)))) return false;
      if (addresses !== null && !addressIn(addresses, caller.address)) return false;
      return true;
    },
  };
}

/** IPv4 clients on a dual-stack socket show as ::ffff:a.b.c.d; IPv4 blocks must still match them. */
function addressIn(list: BlockList, address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return list.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** The class of a call: the first that matches, else the default class. */
export function classify(flow: CompiledFlow, caller: Caller): FlowClass {
  for (const c of flow.classes) if (c.matches(caller)) return c;
  return flow.defaultClass;
}
