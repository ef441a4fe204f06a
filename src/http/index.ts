export {parseJson, stringifyJson} from './json.js'
export {
  DEFAULT_HTTP_TIMEOUT_MS,
  HttpError,
  IDEMPOTENT_ATTEMPTS,
  httpJson,
  httpRequest,
  type HttpCall,
  type HttpErrorCode,
  type HttpMethod,
  type HttpReply,
} from './client.js'
