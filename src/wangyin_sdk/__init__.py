"""Client-side pieces for Wangyin: what runs on the customer's machine, not the bank's."""
