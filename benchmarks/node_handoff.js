// Node.js peer for the wsadup benchmarks (row 5): child_process
// send(message, socket), i.e. libuv's handle passing over the IPC channel.
// One handoff = parent.send('h', socket) -> the child holds a net.Socket for
// the same connection -> the child's 'a' message is back at the parent.
// Usage: node node_handoff.js <count> <warmup>; prints "SAMPLES ns ns ...".
'use strict';
const { fork } = require('child_process');
const net = require('net');

if (process.argv[2] === 'child') {
  process.on('message', (message, handle) => {
    if (!handle) {
      process.send('e');
      return;
    }
    process.send('a');
    handle.destroy();  // closes the child's descriptor, as the other rows do
  });
  process.on('disconnect', () => process.exit(0));
  return;
}

const count = parseInt(process.argv[2] || '1000', 10);
const warmup = parseInt(process.argv[3] || '100', 10);
// Bounds the whole run: a hang is an error, never a measurement.
const watchdog = setTimeout(() => {
  console.log('ERROR node handoff timed out');
  process.exit(1);
}, 240000);

const server = net.createServer();
server.listen(0, '127.0.0.1', () => {
  let accepted = null;
  server.on('connection', (socket) => {
    accepted = socket;
    accepted.pause();
    start();
  });
  const client = net.connect(server.address().port, '127.0.0.1');
  client.pause();

  function start() {
    const child = fork(__filename, ['child'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const samples = [];
    let i = 0;
    let t0 = 0n;
    child.on('message', (message) => {
      const t1 = process.hrtime.bigint();
      if (message !== 'a') {
        console.log('ERROR child did not get the socket');
        process.exit(1);
      }
      if (i > 0 && i > warmup) samples.push(t1 - t0);
      if (i >= warmup + count) {
        clearTimeout(watchdog);
        console.log('SAMPLES ' + samples.join(' '));
        child.disconnect();
        client.destroy();
        accepted.destroy();
        server.close();
        return;
      }
      next();
    });
    function next() {
      i += 1;
      t0 = process.hrtime.bigint();
      child.send('h', accepted, { keepOpen: true });
    }
    next();
  }
});
