const { trigger } = require('../lib/trigger');

module.exports = trigger({
  key: 'export_run_finished',
  noun: 'Export Run',
  label: 'Recording Export Run Finished',
  description:
    'Triggers when a run of a recording export job to S3 ends: succeeded, failed or interrupted.',
  // Items are runs as patchbay's `GET …/recording-export-jobs/{id}/runs/{run}` shows them.
  outputFields: [
    { key: 'id', label: 'Run ID' },
    { key: 'job_id', label: 'Export Job ID' },
    { key: 'reason', label: 'Started By' },
    { key: 'state', label: 'State' },
    { key: 'total', label: 'Recordings in the Run', type: 'integer' },
    { key: 'exported', label: 'Recordings Exported', type: 'integer' },
    { key: 'failed', label: 'Recordings Failed', type: 'integer' },
    { key: 'bytes', label: 'Bytes Uploaded', type: 'integer' },
    { key: 'metadata_key', label: 'Metadata CSV Key' },
    { key: 'error', label: 'Error' },
    { key: 'started_at', label: 'Started At', type: 'datetime' },
    { key: 'finished_at', label: 'Finished At', type: 'datetime' },
  ],
  sample: {
    id: '9d2c4e6f-1a3b-4c5d-8e7f-0a1b2c3d4e5f',
    job_id: '3e5f7a9b-2c4d-4e6f-8a0b-1c2d3e4f5a6b',
    reason: 'schedule',
    resumed_from: null,
    state: 'succeeded',
    node: 'patchbay-1',
    total: 42,
    exported: 42,
    failed: 0,
    bytes: 73400320,
    metadata_key: 'recordings/2024-05-01/metadata.csv',
    error: null,
    started_at: '2024-05-01T22:00:00Z',
    heartbeat_at: '2024-05-01T22:03:40Z',
    finished_at: '2024-05-01T22:03:41Z',
    epoch: 1,
  },
});
