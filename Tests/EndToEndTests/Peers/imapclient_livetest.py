#!/usr/bin/env python3
"""Runs IMAPClient's live test suite (livetest.py, from IMAPClient's sdist on PyPI) against an IMAP server,
and prints what happened as one JSON object: passed, failures and errors (test names), skipped (name: reason).

Usage: imapclient_livetest.py --livetest DIR --port N --user U --password P --cafile PEM [--only NAME ...]

DIR is the unpacked sdist (it holds livetest.py and the imapclient package). The suite is IMAPClient's own,
written against Dovecot, Gmail and others; it is run unchanged, over implicit TLS on 127.0.0.1.
`scripts/get-imapclient-livetest.sh` fetches it (CI does).
"""
import argparse, configparser, copy, io, json, os, sys, tempfile, types, unittest


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--livetest", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--only", nargs="*", default=[], help="run just these tests (Class.test_name)")
    args = parser.parse_args()

    sys.path.insert(0, args.livetest)
    # IMAPClient 2.x's livetest takes unittest from its own test package, which the sdist does not ship.
    tests = types.ModuleType("tests")
    tests.util = types.ModuleType("tests.util")
    tests.util.unittest = unittest
    sys.modules.setdefault("tests", tests)
    sys.modules.setdefault("tests.util", tests.util)
    import livetest  # noqa: E402

    ini = configparser.ConfigParser()
    ini["DEFAULT"] = {
        "host": "127.0.0.1", "port": str(args.port), "ssl": "true", "starttls": "false",
        # The certificate names the server's hostname, not 127.0.0.1: trust it, skip the name check.
        "ssl_verify_cert": "true", "ssl_check_hostname": "false", "ssl_ca_file": args.cafile,
        "username": args.user, "password": args.password,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as handle:
        ini.write(handle)
    try:
        config = livetest.parse_config_file(handle.name)
    finally:
        os.unlink(handle.name)
    # What livetest.main() does, without its `imp` module (gone from newer Pythons) and unittest.main().
    config.namespace = livetest.probe_host(config)
    livetest.TestGeneral.conf = config
    livetest.TestSocketTimeout.conf = copy.copy(config)
    classes = [livetest.TestGeneral, livetest.TestSocketTimeout]
    for use_uid, name in ((True, "TestWithUIDs"), (False, "TestWithoutUIDs")):
        klass = livetest.createUidTestClass(config, use_uid=use_uid)
        klass.__name__ = klass.__qualname__ = name
        classes.append(klass)
    def name(test):
        return "%s.%s" % (type(test).__name__, test._testMethodName)

    suite = unittest.TestSuite()
    for klass in classes:
        for test in unittest.defaultTestLoader.loadTestsFromTestCase(klass):
            if not args.only or name(test) in args.only:
                suite.addTest(test)
    log = io.StringIO()
    result = unittest.TextTestRunner(stream=log, verbosity=2).run(suite)

    print(json.dumps({
        "ran": result.testsRun,
        "failures": {name(test): text[-1500:] for test, text in result.failures},
        "errors": {name(test): text[-1500:] for test, text in result.errors},
        "skipped": {name(test): reason for test, reason in result.skipped},
        "log": log.getvalue()[-4000:],
    }))


if __name__ == "__main__":
    main()
