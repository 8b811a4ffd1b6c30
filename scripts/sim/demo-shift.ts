/**
 * The demo's shift: three docks in two field offices, two cameras each, and what every camera
 * records, with what the software must make of it. Every part of the mission appears once:
 * authorized activations with several triggers, a recording authorized by a §5.1 prior
 * authorization approved at the gateway, an unauthorized and a prohibited activation, a late tag,
 * a mute with a reason, a tamper event. Waits are in shift time; the demo plays them faster.
 */
import type { Step } from '../../device/link/sim/scenario.js';

export interface DemoCamera {
  serial: string;
  officerId: string;
  /** What the camera does, in order. */
  steps: Step[];
  /** What each clip's manifest must say (the dock's decision at signing), by clip id. */
  expect: Record<string, { decision: 'AUTHORIZED' | 'UNAUTHORIZED' | 'PROHIBITED'; basis?: 'trigger' | 'grant'; reason?: string }>;
  /** A late tag: the ACTIVITY_TAGGED event's fresh decision, by clip id. */
  tagged?: Record<string, 'AUTHORIZED'>;
}

export interface DemoDock {
  deviceId: string;
  office: string;
  cameras: [DemoCamera, DemoCamera];
}

/** The officer the prior authorization is for; the demo files it as this officer and the FRO approves it. */
export const PRIOR_AUTHORIZATION_OFFICER = 'O-21';

const MiB = 1024 * 1024;

export const DEMO_DOCKS: readonly DemoDock[] = [
  {
    deviceId: 'dock-sea-1',
    office: 'SEA',
    cameras: [
      {
        serial: 'CAM-SEA-101',
        officerId: 'O-17',
        steps: [
          { wait: 2000 },
          // An arrest (holster trigger) with a mute for a privileged conversation.
          {
            start: {
              clip: 'sea101-arrest',
              trigger: 'holster',
              activity: 'at_large_arrest',
              method: 'video',
              preEventBufferS: 30,
              purposes: [],
            },
          },
          { wait: 8000 },
          { mute: { clip: 'sea101-arrest', reason: 'conversation with counsel' } },
          { wait: 4000 },
          { unmute: { clip: 'sea101-arrest' } },
          { wait: 6000 },
          { stop: { clip: 'sea101-arrest', reason: 'button' } },
          { ready: { clip: 'sea101-arrest', size: 6 * MiB, mediaType: 'video/mp4', content: 'video' } },
          { wait: 12000 },
          // A search warrant (vehicle trigger).
          {
            start: {
              clip: 'sea101-warrant',
              trigger: 'vehicle',
              activity: 'search_warrant',
              method: 'video',
              preEventBufferS: 30,
              purposes: [],
            },
          },
          { wait: 9000 },
          { stop: { clip: 'sea101-warrant', reason: 'button' } },
          { ready: { clip: 'sea101-warrant', size: 4 * MiB, mediaType: 'video/mp4', content: 'video' } },
        ],
        expect: {
          'sea101-arrest': { decision: 'AUTHORIZED', basis: 'trigger' },
          'sea101-warrant': { decision: 'AUTHORIZED', basis: 'trigger' },
        },
      },
      {
        serial: 'CAM-SEA-102',
        officerId: 'O-18',
        steps: [
          { wait: 5000 },
          // Started in a hurry with no activity declared, tagged once the recording is stopped.
          { start: { clip: 'sea102-late-tag', trigger: 'button', method: 'video', preEventBufferS: 30, purposes: [] } },
          { wait: 10000 },
          { stop: { clip: 'sea102-late-tag', reason: 'button' } },
          { ready: { clip: 'sea102-late-tag', size: 3 * MiB, mediaType: 'video/mp4', content: 'video' } },
          { wait: 6000 },
          { tag: { clip: 'sea102-late-tag', activity: 'search_warrant', purposes: [] } },
        ],
        expect: { 'sea102-late-tag': { decision: 'UNAUTHORIZED', reason: 'UNCLASSIFIED' } },
        tagged: { 'sea102-late-tag': 'AUTHORIZED' },
      },
    ],
  },
  {
    deviceId: 'dock-sea-2',
    office: 'SEA',
    cameras: [
      {
        serial: 'CAM-SEA-201',
        officerId: 'O-19',
        steps: [
          { wait: 3000 },
          // Recording a demonstration for no other purpose: prohibited (BWC-2024, First Amendment).
          {
            start: {
              clip: 'sea201-protest',
              trigger: 'button',
              activity: 'first_amendment_activity',
              method: 'video',
              preEventBufferS: 0,
              purposes: [],
            },
          },
          { wait: 6000 },
          { stop: { clip: 'sea201-protest', reason: 'button' } },
          { ready: { clip: 'sea201-protest', size: 2 * MiB, mediaType: 'video/mp4', content: 'video' } },
          { wait: 15000 },
          {
            start: {
              clip: 'sea201-arrest',
              trigger: 'sensor',
              activity: 'at_large_arrest',
              method: 'video',
              preEventBufferS: 30,
              purposes: [],
            },
          },
          { wait: 7000 },
          { stop: { clip: 'sea201-arrest', reason: 'button' } },
          { ready: { clip: 'sea201-arrest', size: 5 * MiB, mediaType: 'video/mp4', content: 'video' } },
        ],
        expect: {
          'sea201-protest': { decision: 'PROHIBITED', reason: 'FIRST_AMENDMENT_ONLY' },
          'sea201-arrest': { decision: 'AUTHORIZED', basis: 'trigger' },
        },
      },
      {
        serial: 'CAM-SEA-202',
        officerId: 'O-20',
        steps: [
          { wait: 4000 },
          // An excluded investigative activity without a grant: unauthorized, reported.
          {
            start: {
              clip: 'sea202-undercover',
              trigger: 'button',
              activity: 'undercover_operation',
              method: 'video',
              preEventBufferS: 0,
              purposes: [],
            },
          },
          { wait: 5000 },
          { stop: { clip: 'sea202-undercover', reason: 'button' } },
          { ready: { clip: 'sea202-undercover', size: 2 * MiB, mediaType: 'video/mp4', content: 'video' } },
          { wait: 8000 },
          { tamper: { kind: 'case_opened', detail: 'battery door forced' } },
        ],
        expect: { 'sea202-undercover': { decision: 'UNAUTHORIZED', reason: 'EXCLUDED_ACTIVITY' } },
      },
    ],
  },
  {
    deviceId: 'dock-pdx-1',
    office: 'PDX',
    cameras: [
      {
        serial: 'CAM-PDX-101',
        officerId: PRIOR_AUTHORIZATION_OFFICER,
        steps: [
          { wait: 6000 },
          // The same excluded activity, now under the prior authorization approved at the gateway.
          {
            start: {
              clip: 'pdx101-authorized-meeting',
              trigger: 'button',
              activity: 'undercover_operation',
              method: 'video',
              preEventBufferS: 0,
              purposes: [],
            },
          },
          { wait: 12000 },
          { stop: { clip: 'pdx101-authorized-meeting', reason: 'button' } },
          { ready: { clip: 'pdx101-authorized-meeting', size: 8 * MiB, mediaType: 'video/mp4', content: 'video' } },
        ],
        expect: { 'pdx101-authorized-meeting': { decision: 'AUTHORIZED', basis: 'grant' } },
      },
      {
        serial: 'CAM-PDX-102',
        officerId: 'O-22',
        steps: [
          { wait: 1000 },
          {
            start: {
              clip: 'pdx102-arrest',
              trigger: 'vehicle',
              activity: 'at_large_arrest',
              method: 'video',
              preEventBufferS: 30,
              purposes: [],
            },
          },
          { wait: 14000 },
          { stop: { clip: 'pdx102-arrest', reason: 'button' } },
          { ready: { clip: 'pdx102-arrest', size: 12 * MiB, mediaType: 'video/mp4', content: 'video' } },
        ],
        expect: { 'pdx102-arrest': { decision: 'AUTHORIZED', basis: 'trigger' } },
      },
    ],
  },
];

/** Shift time of the longest camera, ms: the demo's speed factor is this over the requested duration. */
export function shiftLengthMs(docks: readonly DemoDock[] = DEMO_DOCKS): number {
  let longest = 0;
  for (const d of docks) {
    for (const c of d.cameras)
      longest = Math.max(
        longest,
        c.steps.reduce((n, s) => n + ('wait' in s ? s.wait : 0), 0),
      );
  }
  return longest;
}

export const DEMO_OFFICERS = DEMO_DOCKS.flatMap((d) => d.cameras.map((c) => c.officerId));
