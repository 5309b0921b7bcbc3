// Runs dist/src/main.js under the V8 CPU profiler and writes the profile to
// BENCH_PROFILE_FILE on SIGTERM. `node --cpu-prof` cannot be used here: Nest's
// shutdown hook re-raises the signal after closing, which ends the process
// before V8 writes its profile.
'use strict';

const fs = require('node:fs');
const inspector = require('node:inspector');
const path = require('node:path');

const file = process.env.BENCH_PROFILE_FILE;
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 1000 });
session.post('Profiler.start');

// Registered before Nest's listener, so it runs first. An in-thread session calls back synchronously.
process.once('SIGTERM', () => {
  session.post('Profiler.stop', (error, result) => {
    if (!error) {
      fs.writeFileSync(file, JSON.stringify(result.profile));
    }
  });
});

require(path.join(__dirname, '..', '..', 'dist', 'src', 'main.js'));
