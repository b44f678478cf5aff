'use strict';
/**
 * A small Node.js client for wfstored, built at run time from the contract in the repo's
 * `protos/` directory with @grpc/proto-loader (no generated code).
 *
 * Domain values are plain objects with the proto's snake_case field names. The library converts
 * them to and from the wire so that nothing is lost on the way:
 *
 * - int64 fields (tokens_*, total_tokens, duration_ms, stats, deleted_count, Timestamp.seconds)
 *   are decimal strings: a JS number is exact only up to 2^53. Inputs may be strings, bigints or
 *   safe-integer numbers; anything else is a RangeError, never a silent wrap or truncation.
 * - JSON (inputs, response, data, json, loop item) is plain JS values; google.protobuf.Struct and
 *   Value are encoded and decoded by toStruct/fromStruct and toValue/fromValue.
 * - Times are `{seconds: string, nanos: number}` (nanosecond precision, as on the wire); a
 *   missing time is `null`. Date objects and RFC 3339 strings are accepted on input.
 * - Statuses are awf's strings: '', 'pending', 'running', 'completed', 'failed', 'cancelled'.
 * - Message fields that are unset on the wire (response, data, json, conversation, times,
 *   current_loop, loop parent) are `null`; an empty object `{}` is a present, empty Struct.
 * - Watch (watchStates) yields events `{kind, workflowId, version, state, resumeToken}`, named
 *   like the watch's own options and properties; the state inside is a domain value as above.
 */

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

/** The directory holding the contract: `<repo>/protos`, resolved from this file. */
const PROTO_ROOT = path.join(__dirname, '..', '..', 'protos');

/** The contract files, relative to PROTO_ROOT. */
const PROTO_FILES = Object.freeze(['wfstore/v1/state.proto', 'wfstore/v1/history.proto']);

/**
 * proto-loader options, chosen so that wire values reach JS without loss:
 * - keepCase: field names stay snake_case, as in the .proto files (and in Python and grpcurl).
 *   The well-known types are protobufjs's bundled copies, whose fields are camelCase anyway
 *   (Value.numberValue, Value.structValue, ...), whatever keepCase says.
 * - longs: String: int64 values decode as decimal strings instead of lossy numbers or Long.
 * - enums: String: enum values decode as their names ('EXECUTION_STATUS_RUNNING'); a number
 *   this contract does not know decodes as a number.
 * - defaults: true: unset scalars decode as their zero value, unset message fields as null
 *   (so presence of a message field stays visible), repeated and map fields as [] and {}.
 * - oneofs: true: a decoded Value carries `kind`, the name of the member that is set.
 */
const LOADER_OPTIONS = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
});

const STATUS_PREFIX = 'EXECUTION_STATUS_';
const STATUSES = Object.freeze(['', 'pending', 'running', 'completed', 'failed', 'cancelled']);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const MAX_EXACT_JSON_INTEGER = 2n ** 53n;

let contract = null;

/**
 * Load the wfstore.v1 contract from `protos/` (once) and return the gRPC service constructors.
 * @returns {{StateService: grpc.ServiceClientConstructor,
 *   HistoryService: grpc.ServiceClientConstructor}}
 */
function loadContract() {
  if (contract === null) {
    const definition = protoLoader.loadSync([...PROTO_FILES], LOADER_OPTIONS);
    const v1 = grpc.loadPackageDefinition(definition).wfstore.v1;
    contract = { StateService: v1.StateService, HistoryService: v1.HistoryService };
  }
  return contract;
}

// --- errors --------------------------------------------------------------------------------

/**
 * A failed call: `code` is the gRPC status name (e.g. 'NOT_FOUND'), `details` its message.
 * An ABORTED Save or Delete (its expected_version did not match) also has `conflict`:
 * `{workflow_id, current_version}`, the version stored now as a decimal string, or null when
 * nothing is stored; it comes from the status details (see versionConflictOf).
 */
class WfstoreError extends Error {
  /**
   * @param {string} code the gRPC status code name
   * @param {string} details the status message sent by the daemon
   * @param {string} method the RPC that failed, e.g. 'StateService.Load'
   * @param {{workflow_id: string, current_version: string|null}|null} [conflict]
   */
  constructor(code, details, method, conflict = null) {
    super(`${method}: ${code}: ${details}`);
    this.name = 'WfstoreError';
    this.code = code;
    this.details = details;
    this.method = method;
    this.conflict = conflict;
  }

  /**
   * Return the WfstoreError of a failed grpc-js call (an error with a numeric `code`).
   * OUT_OF_RANGE from Watch is a WatchExpiredError; ABORTED carries its `conflict`.
   * @param {grpc.ServiceError} error
   * @param {string} method the RPC that failed, e.g. 'StateService.Load'
   * @returns {WfstoreError}
   */
  static fromServiceError(error, method) {
    const code = grpc.status[error.code] ?? String(error.code);
    if (code === 'OUT_OF_RANGE' && method === 'StateService.Watch') {
      return new WatchExpiredError(error.details, method);
    }
    const conflict = code === 'ABORTED' ? versionConflictOf(error.metadata) : null;
    return new WfstoreError(code, error.details, method, conflict);
  }
}

/**
 * A watch cannot resume from its token: the changes after it are no longer kept (or the token
 * is from another store). Its code is 'OUT_OF_RANGE' and `expired` is true. List or load what is
 * stored now and watch again without a token.
 */
class WatchExpiredError extends WfstoreError {
  /**
   * @param {string} details the status message sent by the daemon
   * @param {string} [method]
   */
  constructor(details, method = 'StateService.Watch') {
    super('OUT_OF_RANGE', details, method);
    this.name = 'WatchExpiredError';
    this.expired = true;
  }
}

let statusTypes = null;

/** The google.rpc.Status and wfstore.v1.VersionConflict decoders (protobufjs), made once. */
function loadStatusTypes() {
  if (statusTypes === null) {
    const root = new protobuf.Root();
    root.resolvePath = (origin, target) =>
      target.startsWith('google/protobuf/') ? target : path.join(PROTO_ROOT, target);
    root.loadSync(['wfstore/v1/state.proto', 'google/protobuf/any.proto'], { keepCase: true });
    // google.rpc.Status, as googleapis defines it (field numbers are the contract).
    root.define('google.rpc').add(
      new protobuf.Type('Status')
        .add(new protobuf.Field('code', 1, 'int32'))
        .add(new protobuf.Field('message', 2, 'string'))
        .add(new protobuf.Field('details', 3, 'google.protobuf.Any', 'repeated')),
    );
    root.resolveAll();
    statusTypes = {
      status: root.lookupType('google.rpc.Status'),
      conflict: root.lookupType('wfstore.v1.VersionConflict'),
    };
  }
  return statusTypes;
}

/**
 * Return the VersionConflict an ABORTED call's trailers carry (`grpc-status-details-bin`, a
 * google.rpc.Status), as `{workflow_id, current_version}`, or null when there is none.
 * @param {grpc.Metadata|undefined} metadata the trailers of the failed call
 */
function versionConflictOf(metadata) {
  const { status, conflict } = loadStatusTypes();
  for (const bytes of metadata?.get('grpc-status-details-bin') ?? []) {
    const decoded = status.decode(bytes);
    for (const detail of decoded.details) {
      if (detail.type_url.endsWith('/wfstore.v1.VersionConflict')) {
        const message = conflict.decode(detail.value);
        const object = conflict.toObject(message, { longs: String });
        const present = Object.prototype.hasOwnProperty.call(message, 'current_version');
        return {
          workflow_id: object.workflow_id,
          current_version: present ? object.current_version : null,
        };
      }
    }
  }
  return null;
}

// --- scalars -------------------------------------------------------------------------------

/**
 * Return an int64 as a decimal string, for the wire. Accepts a bigint, a decimal string or a
 * safe-integer number; throws RangeError for anything that would be rounded or wrapped.
 * @param {string|number|bigint} value
 * @param {string} [what] the field name, for the error message
 * @returns {string}
 */
function toInt64(value, what = 'int64') {
  let big;
  if (typeof value === 'bigint') {
    big = value;
  } else if (typeof value === 'string' && /^-?\d+$/.test(value)) {
    big = BigInt(value);
  } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
    big = BigInt(value);
  } else {
    throw new RangeError(
      `${what}: ${String(value)} is not an exact integer; pass a bigint or a decimal string`,
    );
  }
  if (big < INT64_MIN || big > INT64_MAX) {
    throw new RangeError(`${what}: ${big} is outside the int64 range`);
  }
  return big.toString();
}

function toInt32(value, what) {
  if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    throw new RangeError(`${what}: ${String(value)} is not an int32`);
  }
  return value;
}

/**
 * Return an awf status string as the wire enum name ('running' -> 'EXECUTION_STATUS_RUNNING').
 * @param {string} status one of '', 'pending', 'running', 'completed', 'failed', 'cancelled'
 * @returns {string}
 */
function statusToWire(status) {
  // protobufjs turns an unknown enum name into 0 without a word; refuse it here instead.
  if (!STATUSES.includes(status)) {
    throw new RangeError(
      `status: ${JSON.stringify(status)} is not one of ${JSON.stringify(STATUSES)}`,
    );
  }
  return STATUS_PREFIX + (status === '' ? 'UNSPECIFIED' : status.toUpperCase());
}

/**
 * Return the awf status string of a wire enum value ('EXECUTION_STATUS_RUNNING' -> 'running').
 * @param {string|number} wire the decoded enum: its name, or a number this contract lacks
 * @returns {string}
 */
function statusFromWire(wire) {
  if (typeof wire !== 'string' || !wire.startsWith(STATUS_PREFIX)) {
    throw new RangeError(`status: unknown ExecutionStatus ${String(wire)}`);
  }
  const name = wire.slice(STATUS_PREFIX.length).toLowerCase();
  return name === 'unspecified' ? '' : name;
}

// --- times ---------------------------------------------------------------------------------

/**
 * Return a google.protobuf.Timestamp for the wire, or null for "not set".
 * @param {{seconds: string|number|bigint, nanos?: number}|Date|string|null|undefined} value
 *   a `{seconds, nanos}` pair, a Date (millisecond precision) or an RFC 3339 string
 * @param {string} [what] the field name, for the error message
 * @returns {{seconds: string, nanos: number}|null}
 */
function toTimestamp(value, what = 'timestamp') {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return timestampFromDate(value);
  if (typeof value === 'string') return timestampFromISO(value);
  const nanos = value.nanos ?? 0;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    throw new RangeError(`${what}: nanos ${String(nanos)} is outside 0..999999999`);
  }
  return { seconds: toInt64(value.seconds, `${what}.seconds`), nanos };
}

/**
 * Return the Timestamp of a Date (its milliseconds become nanos).
 * @param {Date} date
 * @returns {{seconds: string, nanos: number}}
 */
function timestampFromDate(date) {
  const ms = BigInt(date.getTime());
  const seconds = ms >= 0n ? ms / 1000n : -((-ms + 999n) / 1000n);
  return { seconds: seconds.toString(), nanos: Number(ms - seconds * 1000n) * 1_000_000 };
}

/**
 * Parse an RFC 3339 UTC time with up to nine fraction digits, e.g.
 * '2025-06-02T12:05:07.123456789Z', into a Timestamp, keeping every digit.
 * @param {string} text
 * @returns {{seconds: string, nanos: number}}
 */
function timestampFromISO(text) {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  const ms = match ? Date.parse(`${match[1]}Z`) : NaN;
  // Date.parse rolls 2025-02-30 over to March; a valid time formats back to the same text.
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== match[1]) {
    throw new RangeError(`not an RFC 3339 UTC time: ${JSON.stringify(text)}`);
  }
  return {
    seconds: (BigInt(ms) / 1000n).toString(),
    nanos: Number((match[2] ?? '').padEnd(9, '0')),
  };
}

/**
 * Format a Timestamp as RFC 3339 UTC with all nine fraction digits.
 * @param {{seconds: string, nanos: number}} stamp
 * @returns {string}
 */
function timestampToISO(stamp) {
  const whole = new Date(Number(BigInt(stamp.seconds) * 1000n)).toISOString().slice(0, 19);
  return `${whole}.${String(stamp.nanos).padStart(9, '0')}Z`;
}

/**
 * Return a google.protobuf.Duration of a number of seconds given as a decimal string or number
 * (e.g. '86400', '-1.5', 0.25); seconds and nanos get the same sign, as the type requires.
 * @param {string|number} seconds
 * @returns {{seconds: string, nanos: number}}
 */
function durationFromSeconds(seconds) {
  const text = typeof seconds === 'number' ? seconds.toFixed(9) : String(seconds);
  const match = /^(-?)(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (!match) throw new RangeError(`not a number of seconds: ${JSON.stringify(text)}`);
  const sign = match[1] === '-' ? -1n : 1n;
  const nanos = sign * BigInt((match[3] ?? '').padEnd(9, '0'));
  return { seconds: toInt64(sign * BigInt(match[2]), 'duration.seconds'), nanos: Number(nanos) };
}

// --- JSON: google.protobuf.Struct and Value --------------------------------------------------

/**
 * Return the google.protobuf.Value of a JSON value. Numbers travel as doubles: NaN and
 * infinities are refused (RangeError), as is a bigint beyond ±2^53. Like JSON.stringify,
 * `undefined` object members are left out and `undefined` array items become null.
 * @param {*} value null, boolean, number, bigint, string, array or plain object
 * @returns {object} a Value message with exactly one member of its `kind` oneof set
 */
function toValue(value) {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  switch (typeof value) {
    case 'boolean':
      return { boolValue: value };
    case 'string':
      return { stringValue: value };
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError(`${value} is not a JSON number`);
      return { numberValue: value };
    case 'bigint':
      if (value > MAX_EXACT_JSON_INTEGER || value < -MAX_EXACT_JSON_INTEGER) {
        throw new RangeError(`${value} is beyond ±2^53, which a JSON number cannot hold exactly`);
      }
      return { numberValue: Number(value) };
    default:
      if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
      return { structValue: toStruct(value) };
  }
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Return the google.protobuf.Struct of a plain object.
 * @param {Object<string, *>} object
 * @returns {{fields: Object<string, object>}}
 */
function toStruct(object) {
  if (!isPlainObject(object)) {
    throw new TypeError(`expected a plain object, got ${Object.prototype.toString.call(object)}`);
  }
  const fields = Object.create(null);
  for (const [key, item] of Object.entries(object)) {
    if (item !== undefined) fields[key] = toValue(item);
  }
  return { fields };
}

const VALUE_KINDS = Object.freeze([
  'nullValue',
  'numberValue',
  'stringValue',
  'boolValue',
  'structValue',
  'listValue',
]);

/**
 * Return the JSON value of a google.protobuf.Value, as decoded (its `kind` names the member
 * that is set) or as built by toValue. A Value with no member set is null, as is `nullValue`.
 * @param {object|null} message
 * @returns {*}
 */
function fromValue(message) {
  if (message === null || message === undefined) return null;
  const kind = message.kind ?? VALUE_KINDS.find((name) => message[name] != null);
  switch (kind) {
    case 'numberValue':
      return message.numberValue;
    case 'stringValue':
      return message.stringValue;
    case 'boolValue':
      return message.boolValue;
    case 'structValue':
      return fromStruct(message.structValue);
    case 'listValue':
      return (message.listValue.values ?? []).map(fromValue);
    default:
      return null;
  }
}

/**
 * Return the plain object of a decoded google.protobuf.Struct. Keys are copied as own data
 * properties (Object.fromEntries), so a key such as "__proto__" stays a key.
 * @param {{fields: Object<string, object>}} message
 * @returns {Object<string, *>}
 */
function fromStruct(message) {
  return Object.fromEntries(
    Object.entries(message.fields ?? {}).map(([key, item]) => [key, fromValue(item)]),
  );
}

const optionalStruct = (value) => (value === null || value === undefined ? null : toStruct(value));
const optionalValue = (value) => (value === null || value === undefined ? null : toValue(value));
const optionalFromStruct = (message) => (message === null ? null : fromStruct(message));

// --- execution state -------------------------------------------------------------------------

/**
 * Return the wire form of an execution state (see the module comment for the value types).
 * @param {object} state an ExecutionContext with snake_case fields; only workflow_id is required
 * @returns {object} a wfstore.v1.ExecutionContext for proto-loader
 */
function encodeContext(state) {
  const states = {};
  for (const [key, step] of Object.entries(state.states ?? {})) {
    states[key] = encodeStep(step, `states[${JSON.stringify(key)}]`);
  }
  return {
    workflow_id: state.workflow_id,
    workflow_name: state.workflow_name ?? '',
    parent_run_id: state.parent_run_id ?? '',
    status: statusToWire(state.status ?? 'pending'),
    current_step: state.current_step ?? '',
    exit_code: toInt32(state.exit_code ?? 0, 'exit_code'),
    inputs: toStruct(state.inputs ?? {}),
    states,
    env: { ...(state.env ?? {}) },
    started_at: toTimestamp(state.started_at, 'started_at'),
    updated_at: toTimestamp(state.updated_at, 'updated_at'),
    completed_at: toTimestamp(state.completed_at, 'completed_at'),
    current_loop: encodeLoop(state.current_loop, 'current_loop'),
    call_stack: [...(state.call_stack ?? [])],
  };
}

function encodeStep(step, where) {
  const conversation = step.conversation ?? null;
  return {
    name: step.name ?? '',
    status: statusToWire(step.status ?? ''),
    output: step.output ?? '',
    stderr: step.stderr ?? '',
    exit_code: toInt32(step.exit_code ?? 0, `${where}.exit_code`),
    attempt: toInt32(step.attempt ?? 0, `${where}.attempt`),
    error: step.error ?? '',
    started_at: toTimestamp(step.started_at, `${where}.started_at`),
    completed_at: toTimestamp(step.completed_at, `${where}.completed_at`),
    response: optionalStruct(step.response),
    json: optionalValue(step.json),
    conversation:
      conversation === null
        ? null
        : {
            session_id: conversation.session_id ?? '',
            turns: (conversation.turns ?? []).map((turn, index) => ({
              role: turn.role ?? '',
              content: turn.content ?? '',
              tokens: toInt64(turn.tokens ?? 0, `${where}.conversation.turns[${index}].tokens`),
            })),
            total_turns: toInt32(
              conversation.total_turns ?? 0,
              `${where}.conversation.total_turns`,
            ),
            total_tokens: toInt64(
              conversation.total_tokens ?? 0,
              `${where}.conversation.total_tokens`,
            ),
            stopped_by: conversation.stopped_by ?? '',
          },
    tokens_used: toInt64(step.tokens_used ?? 0, `${where}.tokens_used`),
    tokens_input: toInt64(step.tokens_input ?? 0, `${where}.tokens_input`),
    tokens_output: toInt64(step.tokens_output ?? 0, `${where}.tokens_output`),
    tokens_estimated: Boolean(step.tokens_estimated),
    output_path: step.output_path ?? '',
    stderr_path: step.stderr_path ?? '',
    truncated: Boolean(step.truncated),
    data: optionalStruct(step.data),
  };
}

function encodeLoop(loop, where) {
  if (loop === null || loop === undefined) return null;
  return {
    item: optionalValue(loop.item),
    index: toInt32(loop.index ?? 0, `${where}.index`),
    first: Boolean(loop.first),
    last: Boolean(loop.last),
    length: toInt32(loop.length ?? 0, `${where}.length`),
    parent: encodeLoop(loop.parent, `${where}.parent`),
  };
}

/**
 * Return the domain form of a decoded wire execution state.
 * @param {object} message a wfstore.v1.ExecutionContext as proto-loader decodes it
 * @returns {object}
 */
function decodeContext(message) {
  const states = {};
  for (const [key, step] of Object.entries(message.states)) states[key] = decodeStep(step);
  return {
    workflow_id: message.workflow_id,
    workflow_name: message.workflow_name,
    parent_run_id: message.parent_run_id,
    status: statusFromWire(message.status),
    current_step: message.current_step,
    exit_code: message.exit_code,
    inputs: message.inputs === null ? {} : fromStruct(message.inputs),
    states,
    env: { ...message.env },
    started_at: message.started_at,
    updated_at: message.updated_at,
    completed_at: message.completed_at,
    current_loop: decodeLoop(message.current_loop),
    call_stack: message.call_stack,
  };
}

function decodeStep(message) {
  const wire = message.conversation;
  return {
    name: message.name,
    status: statusFromWire(message.status),
    output: message.output,
    stderr: message.stderr,
    exit_code: message.exit_code,
    attempt: message.attempt,
    error: message.error,
    started_at: message.started_at,
    completed_at: message.completed_at,
    response: optionalFromStruct(message.response),
    json: fromValue(message.json),
    conversation:
      wire === null
        ? null
        : {
            session_id: wire.session_id,
            turns: wire.turns.map(({ role, content, tokens }) => ({ role, content, tokens })),
            total_turns: wire.total_turns,
            total_tokens: wire.total_tokens,
            stopped_by: wire.stopped_by,
          },
    tokens_used: message.tokens_used,
    tokens_input: message.tokens_input,
    tokens_output: message.tokens_output,
    tokens_estimated: message.tokens_estimated,
    output_path: message.output_path,
    stderr_path: message.stderr_path,
    truncated: message.truncated,
    data: optionalFromStruct(message.data),
  };
}

function decodeLoop(message) {
  if (message === null) return null;
  return {
    item: fromValue(message.item),
    index: message.index,
    first: message.first,
    last: message.last,
    length: message.length,
    parent: decodeLoop(message.parent),
  };
}

// --- history -------------------------------------------------------------------------------

/**
 * Return the wire form of a history record.
 * @param {object} record an ExecutionRecord with snake_case fields; duration_ms is an int64
 * @returns {object}
 */
function encodeRecord(record) {
  return {
    id: record.id,
    workflow_id: record.workflow_id ?? '',
    workflow_name: record.workflow_name ?? '',
    status: record.status ?? '',
    exit_code: toInt32(record.exit_code ?? 0, 'exit_code'),
    started_at: toTimestamp(record.started_at, 'started_at'),
    completed_at: toTimestamp(record.completed_at, 'completed_at'),
    duration_ms: toInt64(record.duration_ms ?? 0, 'duration_ms'),
    error_message: record.error_message ?? '',
  };
}

/**
 * Return the wire form of a history filter.
 * @param {{workflow_name?: string, status?: string, since?: *, until?: *, limit?: number}} filter
 * @returns {object}
 */
function encodeFilter(filter = {}) {
  return {
    workflow_name: filter.workflow_name ?? '',
    status: filter.status ?? '',
    since: toTimestamp(filter.since, 'since'),
    until: toTimestamp(filter.until, 'until'),
    limit: toInt32(filter.limit ?? 0, 'limit'),
  };
}

// --- watch ---------------------------------------------------------------------------------

const EVENT_KIND_PREFIX = 'STATE_EVENT_KIND_';
const EVENT_KINDS = Object.freeze(['saved', 'deleted']);

/** How long a watch waits before opening its stream again, after 1, 2, ... failures in a row. */
const WATCH_BACKOFF_MS = Object.freeze([50, 100, 200, 500, 1000, 2000]);

/** The codes a watch resumes after: the daemon went away, or ended the stream itself. */
const RESUMABLE_CODES = Object.freeze([grpc.status.UNAVAILABLE, grpc.status.CANCELLED]);

/**
 * Return the event kind of a wire enum value ('STATE_EVENT_KIND_SAVED' -> 'saved').
 * @param {string|number} wire the decoded enum: its name, or a number this contract lacks
 * @returns {'saved'|'deleted'}
 */
function eventKindFromWire(wire) {
  const known = typeof wire === 'string' && wire.startsWith(EVENT_KIND_PREFIX);
  const name = known ? wire.slice(EVENT_KIND_PREFIX.length).toLowerCase() : null;
  if (!EVENT_KINDS.includes(name)) {
    throw new RangeError(`kind: unknown StateEventKind ${String(wire)}`);
  }
  return name;
}

/**
 * Return the domain form of a decoded wfstore.v1.StateEvent.
 * @param {object} message
 * @returns {{kind: 'saved'|'deleted', workflowId: string, version: string, state: object|null,
 *   resumeToken: string}}
 */
function decodeEvent(message) {
  return {
    kind: eventKindFromWire(message.kind),
    workflowId: message.workflow_id,
    version: message.version,
    state: message.state === null ? null : decodeContext(message.state),
    resumeToken: message.resume_token,
  };
}

/**
 * The changes to stored states, as an async iterator of events (see WfstoreClient.watchStates):
 *
 *     const watch = client.watchStates({ prefix: 'nightly-' });
 *     for await (const event of watch) console.log(event.kind, event.workflowId, event.version);
 *
 * Each event is `{kind: 'saved'|'deleted', workflowId, version, state, resumeToken}`: version is
 * a decimal string (int64), state the saved state or null (deletes, idsOnly watches, and saves
 * that a later save replaced before the event was sent: the later event follows).
 *
 * The stream is read only as fast as the events are taken, so a slow consumer makes the
 * daemon cut the stream off (UNAVAILABLE). When the stream ends with UNAVAILABLE, or the daemon
 * ends it, the watch opens it again from the last token received, after a short backoff: no
 * change is missed or seen twice, across daemon restarts. Any other status rejects `next()`
 * with a WfstoreError and ends the watch; OUT_OF_RANGE (the token is too old) with a
 * WatchExpiredError. `resumeToken` is the position after the last event taken, or after the
 * last bookmark once every event before it was taken: pass it to a later watch to go on from
 * there. `close()` (or leaving a `for await` loop) cancels the stream.
 */
class StateWatch {
  #stub;
  #metadata;
  #request;
  #startAttempts;
  #token;
  #wireToken;
  #started = false;
  #closed = false;
  #call = null;
  #wake = null;
  #early = [];
  #source;
  #onClose;

  /**
   * @param {grpc.Client} stub the StateService stub
   * @param {grpc.Metadata} metadata sent with every stream
   * @param {{prefix: string, workflow_id: string, resume_token: string, ids_only: boolean}}
   *   request the wire request; its resume_token is replaced on every reopening
   * @param {{startAttempts: number, onClose: function(): void}} options how often to try to
   *   open the stream before the daemon first answers, and what to call once closed
   */
  constructor(stub, metadata, request, { startAttempts, onClose }) {
    this.#stub = stub;
    this.#metadata = metadata;
    this.#request = request;
    this.#startAttempts = startAttempts;
    this.#token = request.resume_token;
    this.#wireToken = request.resume_token;
    this.#onClose = onClose;
    this.#source = this.#replies();
  }

  /** The token after the last event taken (or the last bookmark after it); '' before any. */
  get resumeToken() {
    return this.#token;
  }

  /** Whether the watch has ended: closed, or failed with an error. */
  get closed() {
    return this.#closed;
  }

  /**
   * Wait until the daemon has answered (its first reply is a bookmark) and resolve with the
   * token where the watch starts. Changes committed after this resolves are all seen. Rejects
   * as `next()` does: a bad argument, an expired token, no daemon after a few attempts.
   * @returns {Promise<string>}
   */
  async ready() {
    if (!this.#started && !this.#closed) {
      const item = await this.#pull();
      if (item?.event) this.#early.push(item.event);
      else if (item) this.#token = item.token;
    }
    return this.#token;
  }

  /** @returns {Promise<IteratorResult<object>>} the next event; done once closed */
  async next() {
    for (;;) {
      if (this.#early.length > 0) {
        const event = this.#early.shift();
        this.#token = event.resumeToken;
        return { value: event, done: false };
      }
      if (this.#closed) return { value: undefined, done: true };
      const item = await this.#pull();
      if (item === null) return { value: undefined, done: true };
      if (item.event) {
        this.#token = item.event.resumeToken;
        return { value: item.event, done: false };
      }
      this.#token = item.token;
    }
  }

  /** Close the watch (a `for await` loop that breaks calls this). */
  async return() {
    this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** Stop watching and cancel the stream; idempotent. A pending `next()` resolves as done. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#call?.cancel();
    this.#wake?.();
    this.#onClose();
  }

  /** Return the next event or bookmark of the stream, or null once closed. */
  async #pull() {
    try {
      const { value, done } = await this.#source.next();
      return done ? null : value;
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Yield `{event}` and `{token}` (bookmarks), opening the stream again when it breaks. */
  async *#replies() {
    let failures = 0;
    while (!this.#closed) {
      const call = this.#stub.Watch(
        { ...this.#request, resume_token: this.#wireToken },
        this.#metadata,
      );
      this.#call = call;
      let pause = WATCH_BACKOFF_MS[0]; // the daemon ended the stream: open it again soon
      try {
        for await (const reply of call) {
          failures = 0;
          this.#started = true;
          // Every event of a reply is yielded before the next reply is read, so a stream that
          // breaks after this reply resumes after all of them.
          this.#wireToken = reply.resume_token || this.#wireToken;
          if (reply.events.length === 0) yield { token: this.#wireToken };
          for (const event of reply.events) yield { event: decodeEvent(event) };
        }
      } catch (error) {
        if (this.#closed) return;
        if (typeof error?.code !== 'number') throw error;
        failures += 1;
        const resumable = RESUMABLE_CODES.includes(error.code);
        if (!resumable || (!this.#started && failures >= this.#startAttempts)) {
          throw WfstoreError.fromServiceError(error, 'StateService.Watch');
        }
        pause = WATCH_BACKOFF_MS[Math.min(failures, WATCH_BACKOFF_MS.length) - 1];
      } finally {
        this.#call = null;
        call.cancel();
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, pause);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }
}

// --- the client ----------------------------------------------------------------------------

/** A connection to wfstored, with the StateService and HistoryService calls as promises. */
class WfstoreClient {
  /**
   * @param {string} target 'host:port' or 'unix:///path/to.sock'
   * @param {{timeoutMs?: number, channelOptions?: object, token?: string,
   *   tls?: {ca?: Buffer, cert?: Buffer, key?: Buffer, serverName?: string},
   *   metadata?: Object<string, string>, traceparent?: string}} [options] the
   *   per-call deadline (default 10 s), extra grpc-js channel options, the token sent as
   *   `authorization: Bearer <token>` with every call, TLS for a TCP target: the CA
   *   certificates to trust (default: Node's), a client certificate and key for mutual TLS,
   *   and the name to check the daemon's certificate against if not the target's host;
   *   extra metadata sent with every call, and a W3C `traceparent` (e.g. your tracer's
   *   current span, '00-<trace id>-<span id>-01') that makes the daemon's span of each call
   *   a child of that span (see docs/observability.md)
   */
  constructor(
    target,
    { timeoutMs = 10_000, channelOptions = {}, token, tls, metadata = {}, traceparent } = {},
  ) {
    const { StateService, HistoryService } = loadContract();
    const credentials = tls
      ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
      : grpc.credentials.createInsecure();
    const options = {
      'grpc.max_send_message_length': 16 * 1024 * 1024,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      ...(tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {}),
      ...channelOptions,
    };
    // Per-call metadata rather than call credentials: grpc-js only composes those with TLS,
    // and a Unix socket (always plaintext) needs the token too.
    this.metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(metadata)) this.metadata.set(key, value);
    if (traceparent !== undefined) this.metadata.set('traceparent', traceparent);
    if (token !== undefined) this.metadata.set('authorization', `Bearer ${token}`);
    this.target = target;
    this.timeoutMs = timeoutMs;
    this.watches = new Set();
    this.stubs = { state: new StateService(target, credentials, options) };
    // Both stubs share one channel, as the Python client does.
    this.stubs.history = new HistoryService(target, credentials, {
      ...options,
      channelOverride: this.stubs.state.getChannel(),
    });
  }

  /**
   * Make one unary call on the raw wire messages and resolve with the raw reply.
   * @param {'state'|'history'} service
   * @param {string} method e.g. 'Load'
   * @param {object} request the wire request message
   * @returns {Promise<object>} rejects with a WfstoreError
   */
  call(service, method, request) {
    const stub = this.stubs[service];
    const name = `${service === 'state' ? 'StateService' : 'HistoryService'}.${method}`;
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + this.timeoutMs);
      stub[method](request, this.metadata, { deadline }, (error, reply) => {
        if (error) {
          reject(WfstoreError.fromServiceError(error, name));
        } else {
          resolve(reply);
        }
      });
    });
  }

  /**
   * Save an execution state, replacing the one stored under its workflow_id; resolve with its
   * new version (a decimal string). With `expectedVersion` (0: only if nothing is stored),
   * save only if the stored version is that one; otherwise reject with an ABORTED
   * WfstoreError whose `conflict` holds the version stored now.
   * @param {object} state
   * @param {{expectedVersion?: string|number|bigint}} [options]
   * @returns {Promise<string>}
   */
  async saveState(state, { expectedVersion } = {}) {
    const request = { state: encodeContext(state) };
    if (expectedVersion !== undefined) {
      request.expected_version = toInt64(expectedVersion, 'expectedVersion');
    }
    const reply = await this.call('state', 'Save', request);
    return reply.version;
  }

  /**
   * Load the state stored under an id together with its version, or null when there is none.
   * @param {string} workflowId
   * @returns {Promise<{state: object, version: string}|null>}
   */
  async getState(workflowId) {
    try {
      const reply = await this.call('state', 'Load', { workflow_id: workflowId });
      return { state: decodeContext(reply.state), version: reply.version };
    } catch (error) {
      if (error instanceof WfstoreError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }

  /**
   * Load the execution state stored under an id, or null when there is none (NOT_FOUND).
   * @param {string} workflowId
   * @returns {Promise<object|null>}
   */
  async loadState(workflowId) {
    try {
      const reply = await this.call('state', 'Load', { workflow_id: workflowId });
      return decodeContext(reply.state);
    } catch (error) {
      if (error instanceof WfstoreError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }

  /**
   * Delete the state stored under an id; a missing id is not an error. With
   * `expectedVersion`, only if the stored version is that one (ABORTED otherwise).
   * @param {string} workflowId
   * @param {{expectedVersion?: string|number|bigint}} [options]
   * @returns {Promise<void>}
   */
  async deleteState(workflowId, { expectedVersion } = {}) {
    const request = { workflow_id: workflowId };
    if (expectedVersion !== undefined) {
      request.expected_version = toInt64(expectedVersion, 'expectedVersion');
    }
    await this.call('state', 'Delete', request);
  }

  /**
   * Return one page of stored workflow ids, in ascending byte order.
   * @param {{pageSize?: number, pageToken?: string}} [page]
   * @returns {Promise<{items: string[], next_page_token: string}>}
   */
  async listStatesPage({ pageSize = 0, pageToken = '' } = {}) {
    const reply = await this.call('state', 'List', { page_size: pageSize, page_token: pageToken });
    return { items: reply.workflow_ids, next_page_token: reply.next_page_token };
  }

  /**
   * Yield every page of stored workflow ids, following next_page_token.
   * @param {{pageSize?: number, pageToken?: string}} [page]
   * @returns {AsyncGenerator<{items: string[], next_page_token: string}>}
   */
  async *listStates({ pageSize = 0, pageToken = '' } = {}) {
    let token = pageToken;
    do {
      const page = await this.listStatesPage({ pageSize, pageToken: token });
      yield page;
      token = page.next_page_token;
    } while (token !== '');
  }

  /**
   * Watch the saves and deletes of the ids that start with `prefix` (every id when empty), or
   * of one id; see StateWatch for the events and how the watch resumes by itself. The stream
   * opens at once; `await watch.ready()` waits for the daemon's first answer.
   * @param {{prefix?: string, workflowId?: string, resumeToken?: string, idsOnly?: boolean,
   *   startAttempts?: number}} [options] what to watch (a prefix or one workflowId, not both),
   *   where to start (a token from an event or a watch's `resumeToken`; default: from now on),
   *   whether to leave the states out of the events, and how many times to try opening the
   *   stream before the daemon first answers (default 5)
   * @returns {StateWatch}
   */
  watchStates({
    prefix = '',
    workflowId = '',
    resumeToken = '',
    idsOnly = false,
    startAttempts = 5,
  } = {}) {
    const request = {
      prefix,
      workflow_id: workflowId,
      resume_token: resumeToken,
      ids_only: Boolean(idsOnly),
    };
    const watch = new StateWatch(this.stubs.state, this.metadata, request, {
      startAttempts,
      onClose: () => this.watches.delete(watch),
    });
    this.watches.add(watch);
    return watch;
  }

  /**
   * Resolve with `{state, version}` of a workflow id once `predicate(state)` holds: for the
   * state stored now, or for one saved later (seen through a watch opened before the first
   * read, so no save in between is missed). Rejects with a DEADLINE_EXCEEDED WfstoreError if
   * that does not happen within `timeoutMs`.
   * @param {string} workflowId
   * @param {function(object): boolean} predicate called with a state (see decodeContext)
   * @param {{timeoutMs?: number}} [options] default: 60 s
   * @returns {Promise<{state: object, version: string}>}
   */
  async waitForState(workflowId, predicate, { timeoutMs = 60_000 } = {}) {
    const watch = this.watchStates({ workflowId });
    const timer = setTimeout(() => watch.close(), timeoutMs);
    try {
      await watch.ready();
      const stored = await this.getState(workflowId);
      if (stored !== null && predicate(stored.state)) return stored;
      let seen = BigInt(stored?.version ?? 0);
      for await (const { kind, version, state } of watch) {
        if (kind !== 'saved' || state === null || BigInt(version) <= seen) continue;
        seen = BigInt(version);
        if (predicate(state)) return { state, version };
      }
    } finally {
      clearTimeout(timer);
      watch.close();
    }
    throw new WfstoreError(
      'DEADLINE_EXCEEDED',
      `the state of ${JSON.stringify(workflowId)} did not satisfy the condition within ` +
        `${timeoutMs} ms`,
      'waitForState',
    );
  }

  /**
   * Record one finished run; the same id with identical content again is a no-op.
   * @param {object} record
   * @returns {Promise<void>}
   */
  async record(record) {
    await this.call('history', 'Record', { record: encodeRecord(record) });
  }

  /**
   * Record many finished runs in one transaction: all of them, or none.
   * @param {object[]} records
   * @returns {Promise<void>}
   */
  async recordBatch(records) {
    await this.call('history', 'RecordBatch', { records: records.map(encodeRecord) });
  }

  /**
   * Return one page of the records that match a filter, newest completed_at first.
   * @param {object} filter see encodeFilter
   * @param {{pageSize?: number, pageToken?: string}} [page]
   * @returns {Promise<{items: object[], next_page_token: string}>}
   */
  async listHistoryPage(filter, { pageSize = 0, pageToken = '' } = {}) {
    const reply = await this.call('history', 'List', {
      filter: encodeFilter(filter),
      page_size: pageSize,
      page_token: pageToken,
    });
    return { items: reply.records, next_page_token: reply.next_page_token };
  }

  /**
   * Yield every page of the records that match a filter, following next_page_token.
   * @param {object} filter see encodeFilter
   * @param {{pageSize?: number, pageToken?: string}} [page]
   * @returns {AsyncGenerator<{items: object[], next_page_token: string}>}
   */
  async *listHistory(filter, { pageSize = 0, pageToken = '' } = {}) {
    let token = pageToken;
    do {
      const page = await this.listHistoryPage(filter, { pageSize, pageToken: token });
      yield page;
      token = page.next_page_token;
    } while (token !== '');
  }

  /**
   * Return aggregates over the records that match a filter; every count is an int64 string.
   * p50/p95/p99 are computed only with `percentiles` (a pass over the matching durations, so
   * the cost grows with the number of matching records); without it they are '0'.
   * @param {object} [filter] see encodeFilter (its limit is ignored)
   * @param {{percentiles?: boolean}} [options] whether to compute the percentiles
   * @returns {Promise<object>}
   */
  async getStats(filter = {}, { percentiles = false } = {}) {
    const request = { filter: encodeFilter(filter), percentiles };
    const reply = await this.call('history', 'GetStats', request);
    return reply.stats;
  }

  /**
   * Return the aggregates of getStats over every matching record and per group: `total`, and
   * `groups` ([{key, stats}], ordered by key in UTF-8 byte order, adding up to the total).
   * @param {object} [filter] see encodeFilter (its limit is ignored)
   * @param {{groupBy?: 'workflow_name', percentiles?: boolean}} [options] what to group by
   *   (the only grouping yet), and whether to compute the percentiles (see getStats)
   * @returns {Promise<{total: object, groups: {key: string, stats: object}[]}>}
   */
  async getStatsBreakdown(filter = {}, { groupBy = 'workflow_name', percentiles = false } = {}) {
    const groupings = { workflow_name: 'HISTORY_GROUPING_WORKFLOW_NAME' };
    if (!Object.hasOwn(groupings, groupBy)) {
      throw new RangeError(`groupBy must be one of ${Object.keys(groupings)}, got ${groupBy}`);
    }
    const request = { filter: encodeFilter(filter), group_by: groupings[groupBy], percentiles };
    const reply = await this.call('history', 'GetStats', request);
    return { total: reply.stats, groups: reply.groups };
  }

  /**
   * Delete the records completed before now - olderThan; resolve with how many (a string).
   * @param {{seconds: string|number|bigint, nanos?: number}} olderThan a Duration, see
   *   durationFromSeconds
   * @returns {Promise<string>}
   */
  async cleanup(olderThan) {
    const duration = {
      seconds: toInt64(olderThan.seconds, 'older_than.seconds'),
      nanos: olderThan.nanos ?? 0,
    };
    const reply = await this.call('history', 'Cleanup', { older_than: duration });
    return reply.deleted_count;
  }

  /** End every watch and close the channel. */
  close() {
    for (const watch of [...this.watches]) watch.close();
    this.stubs.history.close();
    this.stubs.state.close();
  }
}

module.exports = {
  LOADER_OPTIONS,
  PROTO_FILES,
  PROTO_ROOT,
  StateWatch,
  WATCH_BACKOFF_MS,
  WatchExpiredError,
  WfstoreClient,
  WfstoreError,
  decodeContext,
  decodeEvent,
  durationFromSeconds,
  encodeContext,
  encodeFilter,
  encodeRecord,
  fromStruct,
  fromValue,
  loadContract,
  versionConflictOf,
  statusFromWire,
  statusToWire,
  timestampFromDate,
  timestampFromISO,
  timestampToISO,
  toInt64,
  toStruct,
  toTimestamp,
  toValue,
};
