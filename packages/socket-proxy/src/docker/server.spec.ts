import { READ_SWITCHES } from './config';
import { Allowance, decide } from './policy';
import { isLongLived } from './server';

const allowed = (target: string) => {
  const decision = decide({ method: 'GET', target, headers: {} }, { ...READ_SWITCHES, CONTAINERS: true });
  if (!decision.allowed) throw new Error(`${target} refused: ${decision.message}`);
  return decision as Allowance;
};

describe('isLongLived: what counts against MAX_STREAMS', () => {
  it.each([
    '/events',
    '/v1.41/events?since=1',
    '/containers/abc/logs?follow=1&stdout=1',
    '/containers/abc/logs?follow=true',
    '/containers/abc/logs?follow=yes',
  ])('%s is a stream', (target) => expect(isLongLived(allowed(target))).toBe(true));

  it.each([
    '/containers/abc/logs?stdout=1',
    '/containers/abc/logs?follow=0',
    '/containers/abc/logs?follow=false',
    '/containers/abc/logs?follow=',
    '/containers/json',
    '/_ping',
  ])('%s is not', (target) => expect(isLongLived(allowed(target))).toBe(false));
});
