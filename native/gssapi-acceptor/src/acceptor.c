/*
 * The accepting side of a GSSAPI security context over MIT's libgssapi_krb5: the calls a SASL
 * GSSAPI server makes (RFC 4752): accept the initiator's tokens, name the peer, wrap and unwrap the
 * security-layer messages. Nothing of Kerberos is implemented here; every call is the library's.
 * Calls are synchronous: an acceptor verifies tickets with its keytab and never contacts the KDC.
 */
#include <stdlib.h>
#include <string.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <node_api.h>

typedef struct {
  gss_ctx_id_t ctx;
  int complete;
} acceptor_t;

static void status_text(OM_uint32 code, int type, char *out, size_t size) {
  OM_uint32 minor, more = 0;
  gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
  size_t used = strlen(out);
  do {
    if (gss_display_status(&minor, code, type, GSS_C_NO_OID, &more, &msg) != GSS_S_COMPLETE) break;
    if (used + msg.length + 3 < size) {
      if (used > 0) { out[used++] = ':'; out[used++] = ' '; }
      memcpy(out + used, msg.value, msg.length);
      used += msg.length;
      out[used] = '\0';
    }
    gss_release_buffer(&minor, &msg);
  } while (more != 0);
}

static napi_value throw_gss(napi_env env, const char *what, OM_uint32 major, OM_uint32 minor) {
  char text[1024];
  strncpy(text, what, sizeof(text) - 1);
  text[sizeof(text) - 1] = '\0';
  status_text(major, GSS_C_GSS_CODE, text, sizeof(text));
  if (minor != 0) status_text(minor, GSS_C_MECH_CODE, text, sizeof(text));
  napi_throw_error(env, NULL, text);
  return NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  acceptor_t *a = data;
  OM_uint32 minor;
  if (a->ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &a->ctx, GSS_C_NO_BUFFER);
  free(a);
}

static acceptor_t *unwrap_context(napi_env env, napi_value value) {
  void *data = NULL;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external || napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "expected a context from createContext()");
    return NULL;
  }
  return data;
}

static int buffer_arg(napi_env env, napi_value value, gss_buffer_desc *out) {
  bool is_buffer = false;
  void *data = NULL;
  size_t length = 0;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, value, &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a Buffer");
    return 0;
  }
  out->value = data;
  out->length = length;
  return 1;
}

static napi_value to_buffer(napi_env env, gss_buffer_desc *buf) {
  napi_value result;
  void *copy = NULL;
  napi_create_buffer_copy(env, buf->length, buf->length > 0 ? buf->value : "", &copy, &result);
  return result;
}

static napi_value create_context(napi_env env, napi_callback_info info) {
  acceptor_t *a = calloc(1, sizeof(acceptor_t));
  napi_value external;
  if (a == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  a->ctx = GSS_C_NO_CONTEXT;
  napi_create_external(env, a, finalize, NULL, &external);
  return external;
}

static napi_value step(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result, token, complete;
  gss_buffer_desc input, output = GSS_C_EMPTY_BUFFER;
  OM_uint32 major, minor, flags = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  acceptor_t *a = unwrap_context(env, argv[0]);
  if (a == NULL || !buffer_arg(env, argv[1], &input)) return NULL;
  if (a->complete) { napi_throw_error(env, NULL, "the security context is already established"); return NULL; }
  major = gss_accept_sec_context(&minor, &a->ctx, GSS_C_NO_CREDENTIAL, &input, GSS_C_NO_CHANNEL_BINDINGS,
                                 NULL, NULL, &output, &flags, NULL, NULL);
  if (GSS_ERROR(major)) {
    OM_uint32 ignored;
    gss_release_buffer(&ignored, &output);
    return throw_gss(env, "", major, minor);
  }
  a->complete = !(major & GSS_S_CONTINUE_NEEDED);
  token = to_buffer(env, &output);
  gss_release_buffer(&minor, &output);
  napi_create_object(env, &result);
  napi_get_boolean(env, a->complete, &complete);
  napi_set_named_property(env, result, "token", token);
  napi_set_named_property(env, result, "complete", complete);
  return result;
}

static napi_value peer_name(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  gss_name_t name = GSS_C_NO_NAME;
  gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
  OM_uint32 major, minor;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  acceptor_t *a = unwrap_context(env, argv[0]);
  if (a == NULL) return NULL;
  if (!a->complete) { napi_throw_error(env, NULL, "the security context is not established"); return NULL; }
  major = gss_inquire_context(&minor, a->ctx, &name, NULL, NULL, NULL, NULL, NULL, NULL);
  if (GSS_ERROR(major)) return throw_gss(env, "", major, minor);
  major = gss_display_name(&minor, name, &text, NULL);
  {
    OM_uint32 ignored;
    gss_release_name(&ignored, &name);
  }
  if (GSS_ERROR(major)) return throw_gss(env, "", major, minor);
  napi_create_string_utf8(env, text.value, text.length, &result);
  gss_release_buffer(&minor, &text);
  return result;
}

static napi_value wrap(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  gss_buffer_desc input, output = GSS_C_EMPTY_BUFFER;
  bool confidential = false;
  OM_uint32 major, minor;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  acceptor_t *a = unwrap_context(env, argv[0]);
  if (a == NULL || !buffer_arg(env, argv[1], &input)) return NULL;
  if (argc > 2) napi_get_value_bool(env, argv[2], &confidential);
  major = gss_wrap(&minor, a->ctx, confidential ? 1 : 0, GSS_C_QOP_DEFAULT, &input, NULL, &output);
  if (GSS_ERROR(major)) return throw_gss(env, "", major, minor);
  result = to_buffer(env, &output);
  gss_release_buffer(&minor, &output);
  return result;
}

static napi_value unwrap(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result, data, conf;
  gss_buffer_desc input, output = GSS_C_EMPTY_BUFFER;
  int confidential = 0;
  OM_uint32 major, minor;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  acceptor_t *a = unwrap_context(env, argv[0]);
  if (a == NULL || !buffer_arg(env, argv[1], &input)) return NULL;
  major = gss_unwrap(&minor, a->ctx, &input, &output, &confidential, NULL);
  if (GSS_ERROR(major)) return throw_gss(env, "", major, minor);
  data = to_buffer(env, &output);
  gss_release_buffer(&minor, &output);
  napi_create_object(env, &result);
  napi_get_boolean(env, confidential != 0, &conf);
  napi_set_named_property(env, result, "data", data);
  napi_set_named_property(env, result, "confidential", conf);
  return result;
}

static napi_value release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  OM_uint32 minor;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  acceptor_t *a = unwrap_context(env, argv[0]);
  if (a == NULL) return NULL;
  if (a->ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &a->ctx, GSS_C_NO_BUFFER);
  a->ctx = GSS_C_NO_CONTEXT;
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "createContext", NULL, create_context, NULL, NULL, NULL, napi_default, NULL },
    { "step", NULL, step, NULL, NULL, NULL, napi_default, NULL },
    { "peerName", NULL, peer_name, NULL, NULL, NULL, napi_default, NULL },
    { "wrap", NULL, wrap, NULL, NULL, NULL, napi_default, NULL },
    { "unwrap", NULL, unwrap, NULL, NULL, NULL, napi_default, NULL },
    { "release", NULL, release, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
