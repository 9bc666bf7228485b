"""Reports: self-contained HTML pages (images inlined) for the demo and the Table 1 reproduction."""
