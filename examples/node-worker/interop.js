#!/usr/bin/env node
'use strict';
/**
 * The Node side of wfstore's cross-language tests (tests/interop/test_node_interop.py).
 *
 *   node interop.js <target> <scenario> [args...]
 *
 * <target> is 'host:port' or 'unix:///path/to.sock'. Each scenario prints one JSON document on
 * stdout and exits 0; an unexpected failure prints one line on stderr and exits 1 (2 for a
 * usage error). Scenarios:
 *
 *   save-sample <id>                  save a rich state (sampleState) under <id>
 *   load <id>                         print the state stored under <id> (JSON null if none)
 *   record-sample <prefix> <n>        record n history records <prefix>-000, <prefix>-001, ...
 *   expect-error <case> [args]        make a call that must fail; print its status code and
 *                                     details. Cases: load-missing <id>, save-bad-id <id>,
 *                                     record-conflict <id>, save-nan <id>, bad-page-token
 *   client-checks                     print what the library refuses before anything is sent
 *   list-states <page_size> [token]   follow next_page_token from [token]; print every page
 *   list-history <page_size> <limit> [workflow_name] [token]
 *                                     likewise for history records
 *   stats [workflow_name]             print HistoryService.GetStats
 *   stats-by-name [status]            print GetStats grouped by workflow name
 *   cleanup <seconds>                 print HistoryService.Cleanup's deleted_count
 *   watch --count <n> [--prefix <p> | --workflow-id <id>] [--resume-token <t>] [--ids-only]
 *         [--timeout-ms <ms>]
 *                                     watch states; print one JSON line once the watch has
 *                                     started ({"type": "ready", resumeToken}), one per event
 *                                     ({"type": "event", kind, workflowId, version, hasState,
 *                                     status, resumeToken}) and, after n events, a last one
 *                                     ({"type": "done", events, resumeToken}); exit 1 if the n
 *                                     events do not come within the timeout (default 20 s)
 *
 * expect-error also has the cases watch-expired <token> (a token of another store) and
 * watch-bad-selector (a prefix and a workflow id at once).
 *
 *   traced <traceparent> <scenario> [args...]
 *                                     run <scenario> with a W3C traceparent sent with each of
 *                                     its calls (the daemon's span of the call is its child)
 */

const { parseArgs } = require('node:util');
const wfstore = require('./wfstore');

const { WfstoreClient, WfstoreError, timestampFromISO } = wfstore;

/** Used as the "usage" exit path. */
class UsageError extends Error {}

/**
 * Return the rich state `save-sample` saves: nested JSON with every kind of value, unicode,
 * int64 values beyond 2^53, nanosecond times, present-but-empty vs absent Structs and a nested
 * loop. The Python test builds the same value as a wfstore.ExecutionContext.
 * @param {string} workflowId
 * @returns {object}
 */
function sampleState(workflowId) {
  return {
    workflow_id: workflowId,
    workflow_name: 'node-review',
    parent_run_id: 'parent-node',
    status: 'running',
    current_step: 'summarize',
    exit_code: 0,
    inputs: {
      repo: 'github.com/acme/gadgets',
      nested: { level1: { level2: { list: [1, 'two', { three: 3 }], flag: true } } },
      numbers: {
        int: 42,
        float: 0.1 + 0.2,
        negative: -17,
        negative_float: -2.5,
        max_exact: 2 ** 53,
        min_exact: -(2 ** 53),
        whole_float: 3.0,
        tiny: 5e-324,
        huge: 1.7976931348623157e308,
        negative_zero: -0,
      },
      flags: [true, false],
      nothing: null,
      unicode: 'café 🚀 — 日本',
      'ключ 🔑': 'unicode key',
      empty_object: {},
      empty_array: [],
      mixed: [1, 'a', null, false, [], {}, [[-1.5]]],
    },
    states: {
      fetch: {
        name: 'fetch',
        status: 'completed',
        output: 'fetched 3 files\n',
        exit_code: 0,
        attempt: 1,
        started_at: timestampFromISO('2025-06-02T12:05:07.123456789Z'),
        completed_at: { seconds: '1748865910', nanos: 1 },
        response: { files: 3, ok: true, note: 'naïve' },
        json: ['a', 1.5, null, { k: 'v' }],
        data: {},
        conversation: {
          session_id: 'sess-node',
          turns: [
            { role: 'user', content: 'Résumé ✓', tokens: '12' },
            { role: 'assistant', content: '日本語で', tokens: '9223372036854775807' },
          ],
          total_turns: 2,
          total_tokens: '9223372036854775807',
          stopped_by: 'max_turns',
        },
        tokens_used: '9007199254740993',
        tokens_input: '9007199254740992',
        tokens_output: '1',
        tokens_estimated: false,
      },
      summarize: {
        name: 'summarize',
        status: 'running',
        stderr: 'warn: slow\n',
        exit_code: -1,
        attempt: 2,
        started_at: { seconds: '1748865911', nanos: 999999999 },
        completed_at: null,
        response: {},
        json: 'just a string',
        data: null,
        conversation: null,
        tokens_used: 0n,
        output_path: 'logs/summarize.out',
        truncated: true,
      },
    },
    env: { HOME: '/home/node', LANG: 'C.UTF-8', EMPTY: '' },
    started_at: { seconds: '1748865907', nanos: 123456789 },
    updated_at: { seconds: '1748865912', nanos: 500 },
    completed_at: null,
    current_loop: {
      item: { file: 'b.txt', size: 2048, tags: ['x'] },
      index: 1,
      first: false,
      last: true,
      length: 2,
      parent: { item: 'batch-1', index: 0, first: true, last: false, length: -1, parent: null },
    },
    call_stack: ['nightly', 'node-review'],
  };
}

/**
 * Return the n history records `record-sample` records. Record 0 has a duration of 2^53 + 1 ms,
 * which only survives as an int64 string; statuses cycle through success, failed, cancelled,
 * completed; completed_at grows by one second per record and carries nanoseconds.
 * @param {string} prefix
 * @param {number} count
 * @returns {object[]}
 */
function sampleRecords(prefix, count) {
  const statuses = ['success', 'failed', 'cancelled', 'completed'];
  const base = 1748865907n;
  return Array.from({ length: count }, (_, i) => {
    const status = statuses[i % statuses.length];
    const ok = status === 'success' || status === 'completed';
    return {
      id: `${prefix}-${String(i).padStart(3, '0')}`,
      workflow_id: `wf-${prefix}-${i}`,
      workflow_name: `${prefix}-wf`,
      status,
      exit_code: ok ? 0 : 1,
      started_at: { seconds: (base + BigInt(i) - 5n).toString(), nanos: 0 },
      completed_at: { seconds: (base + BigInt(i)).toString(), nanos: i * 1000 + 7 },
      duration_ms: i === 0 ? (2n ** 53n + 1n).toString() : String(1000 * (i + 1)),
      error_message: ok ? '' : `${status}: exit status 1 — ✗`,
    };
  });
}

async function expectError(client, name, args) {
  const cases = {
    'load-missing': () => client.call('state', 'Load', { workflow_id: args[0] }),
    'save-bad-id': () => client.saveState({ workflow_id: args[0], workflow_name: 'bad' }),
    'record-conflict': async () => {
      const [record] = sampleRecords(args[0], 1);
      await client.record(record);
      await client.record({ ...record, status: 'failed', exit_code: 1 });
    },
    // The library refuses NaN (toValue); this sends it raw to see what the daemon says.
    'save-nan': () =>
      client.call('state', 'Save', {
        state: {
          workflow_id: args[0],
          status: 'EXECUTION_STATUS_PENDING',
          inputs: { fields: { ratio: { numberValue: NaN } } },
        },
      }),
    'bad-page-token': () => client.listStatesPage({ pageToken: 'not-a-token' }),
    'watch-expired': () => client.watchStates({ resumeToken: args[0] }).ready(),
    'watch-bad-selector': () => client.watchStates({ prefix: 'a', workflowId: 'b' }).ready(),
  };
  const run = cases[name];
  if (run === undefined) throw new UsageError(`unknown expect-error case ${JSON.stringify(name)}`);
  try {
    await run();
  } catch (error) {
    if (error instanceof WfstoreError) {
      return {
        case: name,
        method: error.method,
        code: error.code,
        details: error.details,
        name: error.name,
        expired: error.expired === true,
      };
    }
    throw error;
  }
  throw new Error(`expect-error ${name}: the call succeeded, but it should have failed`);
}

/** Every value the library refuses before sending, with the error it raises. */
function clientChecks() {
  const attempts = {
    nan: () => wfstore.toValue(NaN),
    infinity: () => wfstore.toValue(-Infinity),
    bigint_beyond_2_53: () => wfstore.toValue(2n ** 53n + 1n),
    int64_unsafe_number: () => wfstore.toInt64(2 ** 53 + 2),
    int64_fraction: () => wfstore.toInt64(1.5),
    int64_not_a_number: () => wfstore.toInt64('abc'),
    int64_overflow: () => wfstore.toInt64('9223372036854775808'),
    unknown_status: () => wfstore.statusToWire('done'),
    nanos_out_of_range: () => wfstore.toTimestamp({ seconds: '1', nanos: 1e9 }),
    struct_not_object: () => wfstore.toStruct([1, 2]),
  };
  const out = {};
  for (const [name, attempt] of Object.entries(attempts)) {
    try {
      attempt();
      out[name] = { refused: false };
    } catch (error) {
      out[name] = { refused: true, error: error.name, message: error.message };
    }
  }
  return out;
}

/** Print one JSON line on stdout. */
function printLine(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

const WATCH_OPTIONS = Object.freeze({
  count: { type: 'string' },
  prefix: { type: 'string', default: '' },
  'workflow-id': { type: 'string', default: '' },
  'resume-token': { type: 'string', default: '' },
  'ids-only': { type: 'boolean', default: false },
  'timeout-ms': { type: 'string', default: '20000' },
});

/**
 * The `watch` scenario: print a line when the watch has started, one per event, and one when
 * `--count` events have come (see the file's header); the output is read while it runs.
 */
async function watchScenario(client, args) {
  let values;
  try {
    ({ values } = parseArgs({ args, options: WATCH_OPTIONS, strict: true }));
  } catch (error) {
    throw new UsageError(error.message);
  }
  const count = integer(values.count, '--count');
  const timeoutMs = integer(values['timeout-ms'], '--timeout-ms');
  const watch = client.watchStates({
    prefix: values.prefix,
    workflowId: values['workflow-id'],
    resumeToken: values['resume-token'],
    idsOnly: values['ids-only'],
  });
  const timer = setTimeout(() => watch.close(), timeoutMs);
  let seen = 0;
  try {
    printLine({ type: 'ready', resumeToken: await watch.ready() });
    if (count > 0) {
      for await (const event of watch) {
        printLine({
          type: 'event',
          kind: event.kind,
          workflowId: event.workflowId,
          version: event.version,
          hasState: event.state !== null,
          status: event.state?.status ?? null,
          resumeToken: event.resumeToken,
        });
        seen += 1;
        if (seen === count) break;
      }
    }
  } finally {
    clearTimeout(timer);
    watch.close();
  }
  if (seen < count) throw new Error(`watch: ${seen} of ${count} events within ${timeoutMs} ms`);
  printLine({ type: 'done', events: seen, resumeToken: watch.resumeToken });
}

async function collect(pages) {
  const out = [];
  for await (const page of pages) out.push(page);
  return out;
}

function integer(text, what) {
  if (!/^-?\d+$/.test(text ?? '')) throw new UsageError(`${what} must be an integer`);
  return Number(text);
}

async function run(client, scenario, args) {
  switch (scenario) {
    case 'save-sample': {
      const state = sampleState(args[0]);
      await client.saveState(state);
      return { saved: args[0] };
    }
    case 'load':
      return client.loadState(args[0]);
    case 'get':
      return client.getState(args[0]);
    case 'save-if': {
      // Save a small state under args[0] if the stored version is args[1] (0: none stored);
      // print the new version, or the conflict the daemon's status details carried.
      const state = { workflow_id: args[0], workflow_name: 'node-versions', status: 'running' };
      try {
        return { version: await client.saveState(state, { expectedVersion: args[1] }) };
      } catch (error) {
        if (error instanceof WfstoreError && error.code === 'ABORTED') {
          return { code: error.code, conflict: error.conflict, details: error.details };
        }
        throw error;
      }
    }
    case 'delete-if':
      try {
        await client.deleteState(args[0], { expectedVersion: args[1] });
        return { deleted: args[0] };
      } catch (error) {
        if (error instanceof WfstoreError && error.code === 'ABORTED') {
          return { code: error.code, conflict: error.conflict };
        }
        throw error;
      }
    case 'record-sample': {
      const records = sampleRecords(args[0], integer(args[1], 'n'));
      for (const record of records) await client.record(record);
      return { recorded: records };
    }
    case 'expect-error':
      return expectError(client, args[0], args.slice(1));
    case 'client-checks':
      return clientChecks();
    case 'list-states': {
      const pageSize = integer(args[0], 'page_size');
      const pages = await collect(client.listStates({ pageSize, pageToken: args[1] ?? '' }));
      return { pages, ids: pages.flatMap((page) => page.items) };
    }
    case 'list-history': {
      const filter = { limit: integer(args[1], 'limit'), workflow_name: args[2] ?? '' };
      const pageSize = integer(args[0], 'page_size');
      const pages = await collect(
        client.listHistory(filter, { pageSize, pageToken: args[3] ?? '' }),
      );
      return { pages, ids: pages.flatMap((page) => page.items.map((record) => record.id)) };
    }
    case 'stats':
      return client.getStats(
        { workflow_name: args[0] ?? '' },
        { percentiles: args[1] === 'percentiles' },
      );
    case 'stats-by-name':
      return client.getStatsBreakdown(
        { status: args[0] ?? '' },
        { groupBy: 'workflow_name', percentiles: args[1] === 'percentiles' },
      );
    case 'cleanup':
      return { deleted_count: await client.cleanup(wfstore.durationFromSeconds(args[0])) };
    case 'watch':
      return watchScenario(client, args);
    default:
      throw new UsageError(`unknown scenario ${JSON.stringify(scenario)}`);
  }
}

async function main(argv) {
  let [target, scenario, ...args] = argv;
  if (!target || !scenario) throw new UsageError('usage: interop.js <target> <scenario> [args...]');
  const options = {};
  if (scenario === 'traced') {
    // traced <traceparent> <scenario> [args...]: the scenario's calls carry that traceparent.
    [options.traceparent, scenario, ...args] = args;
    if (!options.traceparent || !scenario) {
      throw new UsageError('usage: interop.js <target> traced <traceparent> <scenario> [args...]');
    }
  }
  const client = new WfstoreClient(target, options);
  try {
    const result = await run(client, scenario, args);
    if (result !== undefined) printLine(result); // watch printed its lines as they came
  } finally {
    client.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`interop: ${process.argv.slice(3).join(' ')}: ${error.message}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}

module.exports = { sampleRecords, sampleState };
