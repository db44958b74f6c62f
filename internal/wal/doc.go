// Package wal is a durable, segmented write-ahead log with group commit.
//
// A Log is a directory of segment files named by a zero-padded sequence
// number (00000000000000000001.wal, ...), so a directory listing is in log
// order. A segment is a sequence of records; each record is an 8-byte
// header followed by the payload:
//
//	offset 0: payload length, uint32 little endian
//	offset 4: CRC-32C (Castagnoli) of the length bytes and the payload, uint32 little endian
//	offset 8: payload
//
// Append returns only once its records are fsync'd. Concurrent appenders
// are group-committed: they write under a mutex, and one syncer goroutine
// fsyncs outside it, so one fsync covers every write that queued up while
// the previous fsync ran.
//
// Durability invariants, which Open relies on:
//
//   - a segment is fsync'd completely before the next one is created, so
//     every segment except the last is whole; a bad record in one of them
//     is corruption (*CorruptError), never a torn write;
//   - the directory is fsync'd after a segment is created and before any
//     record in it is acknowledged, and after segments are deleted;
//   - only the last segment can end in a torn record (a crash during a
//     write). Open truncates it to the last good record and reports the
//     dropped bytes in Stats.TornBytes. A bad record in the last segment
//     that is followed by a good one is corruption, not a torn tail.
//
// Readers read segment files through their own buffer (nothing is kept in
// memory by the Log) and never go past the durable end, so a record a
// Reader returns has been acknowledged to its appender or is about to be.
package wal
