import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyScanner, MAX_HEAD_BYTES, parseHead } from '../src/loadgen/sse-scanner.js';

const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n';

test('a response head is parsed once it is complete', () => {
  assert.deepEqual(parseHead(HEAD.slice(0, 30)), { kind: 'incomplete' });
  assert.deepEqual(parseHead(`${HEAD}: million-sse\n\n`), {
    kind: 'done',
    status: 200,
    chunked: false,
    eventStream: true,
    bodyStart: HEAD.length,
  });
});

test('the head reports the status, chunked framing and the content type', () => {
  const head = parseHead('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n');
  assert.equal(head.kind === 'done' && head.status, 503);
  const chunked = parseHead('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.ok(chunked.kind === 'done' && chunked.chunked && chunked.eventStream);
  const page = parseHead('HTTP/1.0 200 OK\nContent-Type: text/html\n\n<html>');
  assert.ok(page.kind === 'done' && !page.eventStream && page.bodyStart === 'HTTP/1.0 200 OK\nContent-Type: text/html\n\n'.length);
});

test('a head that is not HTTP, or never ends, is bad', () => {
  assert.deepEqual(parseHead('SSH-2.0-OpenSSH_9.2\r\n\r\n'), { kind: 'bad' });
  assert.deepEqual(parseHead(`HTTP/1.1 200 OK\r\nx: ${'a'.repeat(MAX_HEAD_BYTES)}`), { kind: 'bad' });
});

function framesOf(body: string, chunked: boolean, splitEvery: number): number {
  const scanner = new BodyScanner(1);
  scanner.reset(0, chunked);
  const bytes = Buffer.from(body, 'latin1');
  let frames = 0;
  for (let i = 0; i < bytes.length; i += splitEvery) frames += scanner.scan(0, bytes, i, Math.min(bytes.length, i + splitEvery));
  return frames;
}

function chunk(text: string): string {
  return `${Buffer.byteLength(text, 'latin1').toString(16)}\r\n${text}\r\n`;
}

test('events are counted however the bytes are split', () => {
  const body = ': million-sse\nretry: 3000\n\n:\n\n:\n\ndata: {"a":1}\n\n';
  for (let split = 1; split <= body.length; split++) assert.equal(framesOf(body, false, split), 4, `split every ${split}`);
});

test('CRLF, LF and CR line ends all end an event; NUL bytes are heartbeats', () => {
  assert.equal(framesOf(':\r\n\r\n', false, 1), 1);
  assert.equal(framesOf(':\r\n\r\n:\r\n\r\n', false, 3), 2);
  assert.equal(framesOf(':\r\r', false, 1), 1);
  assert.equal(framesOf('data: a\ndata: b\n\n', false, 4), 1);
  assert.equal(framesOf('\0\0\0', false, 1), 3);
});

test('chunked bodies are de-chunked before counting, across any split', () => {
  const body = chunk(': million-sse\n\n') + chunk(':\n\n') + chunk(':\n') + chunk('\n') + '3;ext=1\r\n:\n\n\r\n';
  for (let split = 1; split <= body.length; split++) assert.equal(framesOf(body, true, split), 4, `split every ${split}`);
});

test('a chunked body ends at its last chunk', () => {
  const scanner = new BodyScanner(2);
  scanner.reset(1, true);
  const bytes = Buffer.from(chunk(':\n\n') + '0\r\n\r\n' + chunk(':\n\n'), 'latin1');
  assert.equal(scanner.scan(1, bytes, 0, bytes.length), 1);
  assert.equal(scanner.ended(1), true);
  scanner.reset(1, false);
  assert.equal(scanner.ended(1), false);
});
