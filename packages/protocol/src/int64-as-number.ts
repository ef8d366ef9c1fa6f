/**
 * protobufjs decodes int64/uint64 as `Long` objects whenever the `long` package is present, even for
 * code generated with --force-number. Turning Long support off makes them plain JS numbers (offsets
 * and millisecond timestamps stay far below 2^53). Must run before the generated module loads, so
 * schema.ts imports this file first.
 */
import protobuf from 'protobufjs/minimal.js';

protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();
