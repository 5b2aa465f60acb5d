"""The evidence: one typed record per kind of testcase (written as, and read back from, JUnit
properties), one Verdict, and the judges of the events' cells."""
