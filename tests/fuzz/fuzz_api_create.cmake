set(FUZZ_LIBS zn_api_body zn_http)
