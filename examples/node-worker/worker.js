#!/usr/bin/env node
'use strict';
/**
 * A minimal workflow worker: runs a two-step workflow, saving its state to wfstored before and
 * after each step (so another worker could resume it, and others can follow it; each save is
 * conditional on the version it read, so two workers never overwrite each other), then records
 * the finished run in the history.
 *
 *   node worker.js <target> [workflow_id] [--child <child_workflow_id>]
 *
 * With --child the run is a coordinator: a third step waits, by watching the child's state,
 * until another worker has finished the child run, and keeps the child's outcome.
 *
 * Prints one JSON summary: the reloaded state's status and steps, and the workflow's stats.
 */

const { WfstoreClient, timestampFromDate } = require('./wfstore');

const FINISHED = Object.freeze(['completed', 'failed', 'cancelled']);

const STEPS = [
  {
    name: 'fetch',
    run: async () => ({ output: 'fetched 2 files\n', data: { files: ['a', 'b'] } }),
  },
  { name: 'count', run: async (state) => ({ output: '', data: { count: state.inputs.limit } }) },
  {
    // Only for a coordinator: wait until the child run has finished (another worker runs it).
    // waitForState reads the stored state, then watches for every later save of it.
    name: 'child',
    when: (state) => Boolean(state.inputs.child),
    run: async (state, client) => {
      const finished = await client.waitForState(
        state.inputs.child,
        (child) => FINISHED.includes(child.status),
        { timeoutMs: 60_000 },
      );
      const { status } = finished.state;
      return {
        output: `child ${state.inputs.child}: ${status}\n`,
        data: { workflow_id: state.inputs.child, status, version: finished.version },
      };
    },
  },
];

/**
 * Run the example workflow against wfstored at `target` and return a summary.
 * @param {string} target 'host:port' or 'unix:///path/to.sock'
 * @param {string} workflowId
 * @param {{child?: string}} [options] the workflow id of a child run to wait for
 * @returns {Promise<object>}
 */
async function runWorkflow(target, workflowId, { child } = {}) {
  const client = new WfstoreClient(target);
  try {
    // Resume if a previous worker saved a state under this id; start afresh otherwise.
    // A run that already completed is only summarized. Every save is conditional on the
    // version this worker last saw (0: nothing stored yet), so if another worker saved the
    // run meanwhile, this one stops with an ABORTED error instead of overwriting its work.
    const stored = await client.getState(workflowId);
    let version = stored?.version ?? '0';
    const state = stored?.state ?? {
      workflow_id: workflowId,
      workflow_name: 'node-example',
      status: 'running',
      inputs: { limit: 2, note: 'from Node', ...(child ? { child } : {}) },
      states: {},
      started_at: timestampFromDate(new Date()),
    };
    if (state.status !== 'completed') {
      for (const step of STEPS) {
        if (state.states[step.name]?.status === 'completed') continue;
        if (step.when && !step.when(state)) continue;
        const stepStarted = timestampFromDate(new Date());
        state.current_step = step.name;
        state.states[step.name] = {
          name: step.name,
          status: 'running',
          attempt: 1,
          started_at: stepStarted,
        };
        state.updated_at = stepStarted;
        version = await client.saveState(state, { expectedVersion: version });
        const { output, data } = await step.run(state, client);
        state.states[step.name] = {
          name: step.name,
          status: 'completed',
          output,
          attempt: 1,
          started_at: stepStarted,
          completed_at: timestampFromDate(new Date()),
          data,
        };
        state.updated_at = timestampFromDate(new Date());
        version = await client.saveState(state, { expectedVersion: version });
      }
      state.status = 'completed';
      state.completed_at = timestampFromDate(new Date());
      version = await client.saveState(state, { expectedVersion: version });
      const completedAt = new Date();
      const startedMs =
        Number(state.started_at.seconds) * 1000 + Math.floor(state.started_at.nanos / 1e6);
      await client.record({
        id: workflowId,
        workflow_id: workflowId,
        workflow_name: state.workflow_name,
        status: 'success',
        started_at: state.started_at,
        completed_at: timestampFromDate(completedAt),
        duration_ms: Math.max(0, completedAt.getTime() - startedMs),
      });
    }
    const saved = await client.loadState(workflowId);
    const stats = await client.getStats({ workflow_name: state.workflow_name });
    return {
      workflow_id: workflowId,
      status: saved.status,
      steps: Object.keys(saved.states).sort(),
      version,
      stats,
    };
  } finally {
    client.close();
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const childAt = args.indexOf('--child');
  const child = childAt === -1 ? undefined : args.splice(childAt, 2)[1];
  const [target, workflowId = `node-${process.pid}`] = args;
  if (!target || (childAt !== -1 && !child)) {
    process.stderr.write('usage: worker.js <target> [workflow_id] [--child <workflow_id>]\n');
    process.exit(2);
  }
  runWorkflow(target, workflowId, { child })
    .then((summary) => process.stdout.write(`${JSON.stringify(summary)}\n`))
    .catch((error) => {
      process.stderr.write(`worker: ${error.message}\n`);
      process.exitCode = 1;
    });
}

module.exports = { runWorkflow };
