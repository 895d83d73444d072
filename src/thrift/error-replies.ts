/**
 * The well-formed errors the router answers with instead of a reply from a metastore.
 */
import { BinaryWriter } from './binary-writer';
import { MessageType, TType } from './protocol';

/** TApplicationException type codes (Thrift's own). */
export const enum AppErrorType {
  UNKNOWN = 0,
  UNKNOWN_METHOD = 1,
  INVALID_MESSAGE_TYPE = 2,
  WRONG_METHOD_NAME = 3,
  BAD_SEQUENCE_ID = 4,
  MISSING_RESULT = 5,
  INTERNAL_ERROR = 6,
  PROTOCOL_ERROR = 7,
}

/** An EXCEPTION message carrying a TApplicationException{1: message, 2: type}. */
export function applicationExceptionReply(method: string, seqid: number, type: AppErrorType, message: string): Buffer {
  return new BinaryWriter(64 + message.length)
    .messageBegin(method, MessageType.EXCEPTION, seqid)
    .fieldBegin(TType.STRING, 1).string(message)
    .fieldBegin(TType.I32, 2).i32(type)
    .fieldStop()
    .finish();
}

/**
 * A REPLY whose result struct carries a MetaException{1: message} in field `fieldId`: the client
 * raises it as the method's declared MetaException, so engines show the message to the user.
 */
export function metaExceptionReply(method: string, seqid: number, fieldId: number, message: string): Buffer {
  return new BinaryWriter(64 + message.length)
    .messageBegin(method, MessageType.REPLY, seqid)
    .fieldBegin(TType.STRUCT, fieldId)
    .fieldBegin(TType.STRING, 1).string(message)
    .fieldStop()
    .fieldStop()
    .finish();
}
