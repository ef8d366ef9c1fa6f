/**
 * The wire schema as data, read by reflection from packages/protocol/bimip.proto itself, so the mutator
 * fuzzes every field of every payload (a field added to the .proto is fuzzed without touching this
 * directory).
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export type FieldKind = 'varint' | 'double' | 'float' | 'fixed64' | 'fixed32' | 'string' | 'bytes' | 'message';

export interface SchemaField {
  id: number;
  name: string;
  kind: FieldKind;
  /** The .proto type: 'int32', 'uint64', 'string', 'Identity'… */
  type: string;
  /** For kind 'message': the embedded type's name (e.g. 'Identity'). */
  messageType: string | undefined;
  repeated: boolean;
}

const PROTO_PATH = fileURLToPath(new URL('../../packages/protocol/bimip.proto', import.meta.url));
const root = protobuf.loadSync(PROTO_PATH);
const PACKAGE = 'bimip.v1';

function kindOf(field: protobuf.Field): FieldKind {
  switch (field.type) {
    case 'double':
      return 'double';
    case 'float':
      return 'float';
    case 'fixed64':
    case 'sfixed64':
      return 'fixed64';
    case 'fixed32':
    case 'sfixed32':
      return 'fixed32';
    case 'string':
      return 'string';
    case 'bytes':
      return 'bytes';
    default:
      return field.resolvedType instanceof protobuf.Type ? 'message' : 'varint';
  }
}

const cache = new Map<string, SchemaField[]>();

/** The fields of message type `typeName` (short name, e.g. 'Message'). */
export function fieldsOf(typeName: string): SchemaField[] {
  let fields = cache.get(typeName);
  if (!fields) {
    const type = root.lookupType(`${PACKAGE}.${typeName}`);
    type.resolveAll();
    fields = type.fieldsArray.map((field) => ({
      id: field.id,
      name: field.name,
      kind: kindOf(field),
      type: field.type,
      messageType: field.resolvedType instanceof protobuf.Type ? field.resolvedType.name : undefined,
      repeated: field.repeated,
    }));
    cache.set(typeName, fields);
  }
  return fields;
}

/** MessageScheme's payload oneof: route (= field number) → payload type name (SPEC §3). */
export const PAYLOAD_TYPE_BY_ROUTE: ReadonlyMap<number, string> = (() => {
  const scheme = root.lookupType(`${PACKAGE}.MessageScheme`);
  scheme.resolveAll();
  const map = new Map<number, string>();
  for (const field of scheme.oneofsArray.flatMap((oneof) => oneof.fieldsArray)) map.set(field.id, field.resolvedType!.name);
  return map;
})();

/** Every route a payload can be sent under (client and server-only ones). */
export const ALL_ROUTES: readonly number[] = [...PAYLOAD_TYPE_BY_ROUTE.keys()];
