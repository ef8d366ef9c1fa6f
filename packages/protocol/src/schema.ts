/**
 * Typed access to the generated protobufjs classes (package bimip.v1, SPEC §4).
 * Field names are camelCase in code (`userOffset`), snake_case on the wire.
 */
import './int64-as-number.js';
import { bimip } from './generated/bimip.js';

export const pb = bimip.v1;

export type MessageScheme = bimip.v1.MessageScheme;
/** Decoded values (defaults filled in) and the init shapes used to build frames. */
export type Identity = bimip.v1.Identity;
export type IdentityInit = bimip.v1.Identity.$Properties;
export type Message = bimip.v1.Message;
export type MessageInit = bimip.v1.Message.$Properties;
export type Ack = bimip.v1.Ack;
export type AckInit = bimip.v1.Ack.$Properties;
export type Signal = bimip.v1.Signal;
export type SignalInit = bimip.v1.Signal.$Properties;
export type OffsetCommit = bimip.v1.OffsetCommit;
export type OffsetCommitInit = bimip.v1.OffsetCommit.$Properties;
export type Sync = bimip.v1.Sync;
export type SyncInit = bimip.v1.Sync.$Properties;
export type Awareness = bimip.v1.Awareness;
export type AwarenessInit = bimip.v1.Awareness.$Properties;
export type AwarenessVisibility = bimip.v1.AwarenessVisibility;
export type AwarenessVisibilityInit = bimip.v1.AwarenessVisibility.$Properties;
export type Body = bimip.v1.Body;
export type BodyInit = bimip.v1.Body.$Properties;
export type Contact = bimip.v1.Contact;
export type ContactInit = bimip.v1.Contact.$Properties;
export type PingPong = bimip.v1.PingPong;
export type PingPongInit = bimip.v1.PingPong.$Properties;
export type TokenAuthority = bimip.v1.TokenAuthority;
export type TokenAuthorityInit = bimip.v1.TokenAuthority.$Properties;
export type Logout = bimip.v1.Logout;
export type LogoutInit = bimip.v1.Logout.$Properties;
export type ErrorMessage = bimip.v1.ErrorMessage;
export type ErrorMessageInit = bimip.v1.ErrorMessage.$Properties;

/** The payload of a frame, discriminated by its oneof field name. */
export type Frame =
  | { route: 2; field: 'awareness'; value: Awareness }
  | { route: 3; field: 'pingPong'; value: PingPong }
  | { route: 4; field: 'awarenessVisibility'; value: AwarenessVisibility }
  | { route: 5; field: 'tokenAuthority'; value: TokenAuthority }
  | { route: 6; field: 'message'; value: Message }
  | { route: 9; field: 'body'; value: Body }
  | { route: 10; field: 'error'; value: ErrorMessage }
  | { route: 11; field: 'logout'; value: Logout }
  | { route: 12; field: 'signal'; value: Signal }
  | { route: 13; field: 'ack'; value: Ack }
  | { route: 14; field: 'offsetCommit'; value: OffsetCommit }
  | { route: 15; field: 'sync'; value: Sync }
  | { route: 16; field: 'contact'; value: Contact };
