import { describe, expect, it } from 'vitest';
import { CircuitBreaker, BreakerState } from '../../src/backends/circuit-breaker';

describe('CircuitBreaker', () => {
  function setup() {
    let now = 1_000_000;
    const changes: Array<[BreakerState, string | null]> = [];
    const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 5000 }, () => now, (s, r) => changes.push([s, r]));
    return { breaker, changes, advance: (ms: number) => { now += ms; } };
  }

  it('opens after the threshold of consecutive failures; a success in between resets the count', () => {
    const { breaker, changes } = setup();
    breaker.failure('a');
    breaker.failure('b');
    breaker.success();
    breaker.failure('c');
    breaker.failure('d');
    expect(breaker.state).toBe('closed');
    breaker.failure('connect ECONNREFUSED');
    expect(breaker.state).toBe('open');
    expect(breaker.describe()).toMatchObject({ state: 'open', reason: 'connect ECONNREFUSED' });
    expect(changes).toEqual([['open', 'connect ECONNREFUSED']]);
  });

  it('half-open after openMs: a success closes it, a failure opens it again for another openMs', () => {
    const { breaker, changes, advance } = setup();
    for (let i = 0; i < 3; i++) breaker.failure('down');
    advance(4999);
    expect(breaker.state).toBe('open');
    advance(1);
    expect(breaker.state).toBe('half-open');
    breaker.failure('still down');
    expect(breaker.state).toBe('open');
    advance(5000);
    expect(breaker.state).toBe('half-open');
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.describe().reason).toBeNull();
    expect(changes.map(([s]) => s)).toEqual(['open', 'open', 'closed']);
  });
});
