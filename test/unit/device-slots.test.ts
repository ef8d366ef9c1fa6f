import { describe, expect, it } from 'vitest';
import { DeviceSlots, UserDevices } from '../../src/core/device-slots.js';

/** A reference model: what a Map would answer. */
function sameAsMap(slots: DeviceSlots<number>, model: Map<string, number>): void {
  expect(slots.size).toBe(model.size);
  expect(slots.entries()).toEqual([...model]);
  expect(slots.devices()).toEqual([...model.keys()]);
  expect(slots.values()).toEqual([...model.values()]);
  const seen: number[] = [];
  slots.forEachValue((v) => seen.push(v));
  expect(seen).toEqual([...model.values()]);
  for (const device of ['a', 'b', 'c', 'd']) {
    expect(slots.get(device)).toBe(model.get(device));
  }
}

describe('DeviceSlots', () => {
  it('answers like a Map through one device, two, and back to one (insertion order kept)', () => {
    const slots = new DeviceSlots<number>();
    const model = new Map<string, number>();
    sameAsMap(slots, model);
    const steps: Array<['set', string, number] | ['delete', string]> = [
      ['set', 'a', 1],
      ['set', 'a', 2],
      ['delete', 'b'],
      ['set', 'b', 3],
      ['set', 'c', 4],
      ['delete', 'a'],
      ['delete', 'c'],
      ['set', 'a', 5],
      ['delete', 'b'],
      ['delete', 'a'],
      ['delete', 'a'],
      ['set', 'd', 6],
    ];
    for (const step of steps) {
      if (step[0] === 'set') {
        slots.set(step[1], step[2]);
        model.set(step[1], step[2]);
      } else {
        expect(slots.delete(step[1])).toBe(model.delete(step[1]));
      }
      sameAsMap(slots, model);
    }
  });

  it('agrees with a Map over 2,000 random operations', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const slots = new DeviceSlots<number>();
    const model = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const device = 'abcd'[random(4)];
      if (random(3) === 0) expect(slots.delete(device)).toBe(model.delete(device));
      else {
        slots.set(device, i);
        model.set(device, i);
      }
      sameAsMap(slots, model);
    }
  });

  it('holds undefined-free values of any kind, including falsy ones', () => {
    const slots = new DeviceSlots<number | boolean>();
    slots.set('a', 0);
    expect(slots.get('a')).toBe(0);
    expect(slots.size).toBe(1);
    slots.set('b', false);
    expect(slots.entries()).toEqual([
      ['a', 0],
      ['b', false],
    ]);
  });
});

describe('UserDevices', () => {
  it('forgets a user whose last device leaves and keeps users apart', () => {
    const table = new UserDevices<string>();
    table.set('u1@x', 'd1', 'n1');
    table.set('u1@x', 'd2', 'n2');
    table.set('u2@x', 'd1', 'n1');
    expect(table.userCount).toBe(2);
    expect(table.get('u1@x', 'd2')).toBe('n2');
    expect(table.get('u2@x', 'd2')).toBeUndefined();
    expect(table.entriesOf('u1@x')).toEqual([
      ['d1', 'n1'],
      ['d2', 'n2'],
    ]);
    expect(table.byUser()).toEqual([
      ['u1@x', ['d1', 'd2']],
      ['u2@x', ['d1']],
    ]);
    expect(table.delete('u1@x', 'd3')).toBe(false);
    expect(table.delete('u1@x', 'd1')).toBe(true);
    expect(table.hasUser('u1@x')).toBe(true);
    expect(table.delete('u1@x', 'd2')).toBe(true);
    expect(table.hasUser('u1@x')).toBe(false);
    expect(table.userCount).toBe(1);
    expect(table.entriesOf('u1@x')).toEqual([]);
    expect(table.delete('nobody@x', 'd1')).toBe(false);
  });
});
