#!/usr/bin/python3
"""smartrag-cli upload and documents: descriptors opened as the user, waiting, failures."""

import os
import pty
import subprocess

import clitest
import harness
from clitest import EXIT_DOCUMENT, EXIT_NOT_FOUND

TEA = "# Brewing tea\n\n## Green tea\n\nSteep green tea for two minutes at 80 degrees.\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


class DocumentCommands(clitest.CliTest):

    def test_upload_wait_and_list(self):
        session = self.new_session()
        tea = self.write("tea.md", TEA)
        notes = self.write("notes.txt", "The library is closed on Mondays.\n")
        result = self.ok("upload", "--wait", "--session", session, tea, notes)
        lines = result.out.splitlines()
        self.assertEqual(len(lines), 2, result)
        self.assertTrue(all(line.startswith("ready ") for line in lines), result)

        documents = self.ok("documents", "list", "--json", "--session", session).json()
        self.assertEqual(documents["session_id"], session)
        by_name = {d["filename"]: d for d in documents["documents"]}
        self.assertEqual(set(by_name), {"tea.md", "notes.txt"})
        self.assertEqual(by_name["tea.md"]["state"], "ready")
        self.assertEqual(by_name["tea.md"]["format"], "markdown")
        self.assertGreater(by_name["tea.md"]["chunks"], 0)
        table = self.ok("documents", "list", "--session", session).out
        self.assertRegex(table, r"(?m)^[0-9a-f]{32}  ready .* tea\.md$")

        doc_id = by_name["notes.txt"]["id"]
        self.ok("documents", "remove", "--session", session, doc_id)
        self.fails(EXIT_NOT_FOUND, "documents", "remove", "--session", session, doc_id,
                   contains=f"No document '{doc_id}'")

    def test_progress_bar_on_a_terminal(self):
        session = self.new_session()
        tea = self.write("tea.md", TEA)
        master, slave = pty.openpty()
        try:
            proc = subprocess.run(self.argv(["upload", "--wait", "--session", session, tea]),
                                  stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                                  env=self.cli_env(), timeout=30)
            os.close(slave)
            slave = None
            drawn = b""
            try:
                while chunk := os.read(master, 4096):
                    drawn += chunk
            except OSError:  # the terminal's other end is closed: all is read
                pass
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(proc.returncode, 0, drawn)
        self.assertRegex(drawn.decode(), r"\r\x1b\[K\[-{24}\]   0%  0/1 done  .*tea\.md: stored")
        # The bar is wiped before the final line, which goes to stdout.
        self.assertTrue(drawn.endswith(b"\r\x1b[K"), drawn)
        self.assertRegex(proc.stdout.decode(), r"^ready +[0-9a-f]{32}  .*tea\.md\n$")

    def test_upload_without_wait_prints_ids(self):
        self.new_session("Older")
        newest = self.new_session("Newest")
        tea = self.write("tea.md", TEA)
        # No --session: the newest session.
        result = self.ok("upload", "--json", tea).json()
        self.assertEqual(result["session_id"], newest)
        self.assertEqual(result["errors"], [])
        self.assertRegex(result["documents"][0]["document_id"], harness.ID_PATTERN)
        plain = self.ok("upload", tea, env=self.cli_env(SMARTRAG_SESSION=newest))
        self.assertRegex(plain.out, rf"^[0-9a-f]{{32}}  {tea}\n$")

    def test_files_that_cannot_be_added(self):
        session = self.new_session()
        tea = self.write("tea.md", TEA)
        png = self.write("picture.txt", PNG)
        missing = os.path.join(self.workdir, "missing.pdf")
        result = self.cli("upload", "--wait", "--json", "--session", session, tea, missing, png,
                          self.workdir)
        self.assertEqual(result.code, EXIT_DOCUMENT, result)
        errors = result.err.splitlines()
        self.assertEqual(len(errors), 3, result)
        self.assertIn(f"Cannot add {missing}: Cannot open {missing}: No such file or directory",
                      errors[0])
        self.assertIn(f"Cannot add {png}: The file is a PNG image, which is not supported",
                      errors[1])
        self.assertIn(f"{self.workdir} is a directory", errors[2])
        report = result.json()
        self.assertEqual([d["state"] for d in report["documents"]], ["ready"])
        self.assertEqual([e["file"] for e in report["errors"]], [missing, png, self.workdir])

    def test_document_that_fails_while_waiting(self):
        session = self.new_session()
        broken = self.write("broken.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 4)
        result = self.cli("upload", "--wait", "--session", session, broken)
        self.assertEqual(result.code, EXIT_DOCUMENT, result)
        self.assertRegex(result.out, r"^failed +[0-9a-f]{32}  .*broken\.pdf: .+")

    def test_unreadable_file_as_another_user(self):
        nobody = self.nobody()
        self.polkit.set_allowed([harness.ACTION_USE])
        self.ok("sessions", "create", account=nobody)
        secret = self.write("secret.txt", "only root reads this\n", mode=0o000)
        result = self.cli("upload", secret, account=nobody)
        self.assertEqual(result.code, EXIT_DOCUMENT, result)
        self.assertIn(f"Cannot open {secret}: Permission denied", result.err)
        # Root's session is not nobody's to use.
        mine = self.new_session()
        self.fails(EXIT_NOT_FOUND, "upload", "--session", mine, self.write("a.txt", "a\n"),
                   account=nobody, contains=harness.denied_message(mine))

    def test_no_session_yet(self):
        self.fails(EXIT_NOT_FOUND, "upload", self.write("a.txt", "a\n"),
                   contains="You have no session yet; create one with 'smartrag-cli sessions "
                            "create'")


if __name__ == "__main__":
    clitest.main()
