{
  "targets": [
    {
      "target_name": "gssapi_acceptor",
      "sources": ["src/acceptor.c"],
      "libraries": ["-lgssapi_krb5"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
