// A second process for test/keystore/sqlite.test.ts: opens its own
// connection to the same SQLite key store and runs the same read-modify-write
// loop as the parent, so lost updates between processes would show.
'use strict';
const { join } = require('node:path');
const { SqliteKeyStore } = require(join(__dirname, '../../dist/keystore/index.js'));

/** Waits about a millisecond: widens each read-modify-write window so the other process can commit inside it. */
function pause() {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * One round: increment the key's description counter and the job counter
 * (each read, pause, compare-and-set write, retried on ConflictException),
 * and append one audit record. Returns how many conflicts were retried.
 */
async function round(store, keyId, who) {
  let conflicts = 0;
  for (;;) {
    const key = await store.getKey(keyId);
    await pause();
    try {
      await store.updateKey(keyId, key.rowVersion, { description: String(Number(key.description) + 1) });
      break;
    } catch (error) {
      if (error.code !== 'ConflictException') throw error;
      conflicts++;
    }
  }
  await store.appendAudit([
    { time: new Date(), operation: 'Increment', keyId, keyVersion: 1, contextKeys: [], outcome: 'success', errorCode: null, principal: who },
  ]);
  for (;;) {
    const job = await store.getJob('counter');
    await pause();
    try {
      await store.saveJob('counter', { n: (job?.state?.n ?? 0) + 1 }, job === null ? null : job.rowVersion);
      break;
    } catch (error) {
      if (error.code !== 'ConflictException') throw error;
      conflicts++;
    }
  }
  return conflicts;
}

module.exports = { round };

if (require.main === module) {
  process.once('message', async ({ path, keyId, rounds }) => {
    try {
      const store = await SqliteKeyStore.open(path);
      process.send({ ready: true });
      await new Promise((resolve) => process.once('message', resolve));
      let conflicts = 0;
      for (let i = 0; i < rounds; i++) conflicts += await round(store, keyId, 'child');
      await store.close();
      process.send({ done: true, conflicts }, () => process.exit(0));
    } catch (error) {
      process.send({ error: String(error && error.stack ? error.stack : error) }, () => process.exit(1));
    }
  });
}
