/**
 * The JSON codes of the closed vocabularies (DESIGN §5: "button", "video", "bwc",
 * "AUTHORIZED"…) and the protobuf enum values behind them. One table, derived from the generated
 * enums, so JSON, CLI and wire never disagree.
 */
import { pb } from './wire.js';

export interface Vocabulary {
  readonly codes: readonly string[];
  /** The JSON code of an enum value; undefined for 0 (unspecified) and unknown values. */
  code(value: number | null | undefined): string | undefined;
  /** The enum value of a JSON code; undefined when it is not one. */
  value(code: string): number | undefined;
}

type Style = 'lower' | 'upper' | 'kebab';

function vocabulary(enumObject: object, prefix: string, style: Style): Vocabulary {
  const toCode = new Map<number, string>();
  const toValue = new Map<string, number>();
  for (const [name, v] of Object.entries(enumObject)) {
    if (typeof v !== 'number' || v === 0 || !name.startsWith(prefix)) continue;
    const base = name.slice(prefix.length);
    const code = style === 'upper' ? base : style === 'kebab' ? base.toLowerCase().replace(/_/g, '-') : base.toLowerCase();
    toCode.set(v, code);
    toValue.set(code, v);
  }
  return {
    codes: [...toValue.keys()],
    code: (value) => (value == null ? undefined : toCode.get(value)),
    value: (code) => toValue.get(code),
  };
}

export const TRIGGERS = vocabulary(pb.TriggerSource, 'TRIGGER_SOURCE_', 'lower');
export const METHODS = vocabulary(pb.RecordingMethod, 'RECORDING_METHOD_', 'lower');
export const DEVICE_ROLES = vocabulary(pb.DeviceRole, 'DEVICE_ROLE_', 'kebab');
export const CLOCK_SOURCES = vocabulary(pb.ClockSource, 'CLOCK_SOURCE_', 'lower');
export const VERDICTS = vocabulary(pb.Verdict, 'VERDICT_', 'upper');
export const BASIS_KINDS = vocabulary(pb.BasisKind, 'BASIS_KIND_', 'lower');
export const STOP_REASONS = vocabulary(pb.StopReason, 'STOP_REASON_', 'lower');
export const MANIFEST_FLAGS = vocabulary(pb.ManifestFlag, 'MANIFEST_FLAG_', 'upper');
export const TAMPER_KINDS = vocabulary(pb.TamperKind, 'TAMPER_KIND_', 'lower');
export const ALERT_KINDS = vocabulary(pb.AlertKind, 'ALERT_KIND_', 'upper');
export const EVENT_KINDS = vocabulary(pb.EventKind, 'EVENT_KIND_', 'upper');
export const ACK_KINDS = vocabulary(pb.AckKind, 'ACK_KIND_', 'upper');
export const STORAGE_MODES = vocabulary(pb.StorageMode, 'STORAGE_MODE_', 'lower');
