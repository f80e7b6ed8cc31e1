// pm2: `pm2 start ecosystem.config.cjs`. Configuration comes from the
// environment pm2 is started with (PORT, WORKERS, REDIS_URL, ...; see README).
module.exports = {
  apps: [
    {
      name: 'million-sse',
      script: './dist/primary.js',
      cwd: __dirname,
      // Fork mode: our primary is the Node cluster primary. In pm2's cluster
      // mode pm2 itself would be the primary and ours would never run.
      exec_mode: 'fork',
      instances: 1,
      // The primary sends 'ready' once every worker listens.
      wait_ready: true,
      listen_timeout: 30000,
      // pm2 stops with SIGINT, which drains: DRAIN_MS (10 s) + DRAIN_GRACE_MS (5 s) + margin.
      kill_timeout: 20000,
      max_restarts: 10,
      restart_delay: 1000,
      // 78 (EX_CONFIG): Redis refused REDIS_URL's password or ACL user, or
      // its TLS certificate (REDIS_CA_FILE). A restart cannot fix that, so
      // pm2 leaves the app stopped, with the reason as the last line of its log.
      stop_exit_codes: [78],
      // Each held connection is a file descriptor; pm2 passes its own limit on, so raise it
      // for the pm2 daemon (ulimit -n, LimitNOFILE= for pm2's systemd unit).
      env: { NODE_ENV: 'production' },
    },
  ],
};
