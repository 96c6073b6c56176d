"""Account statements as documents (对账单): the lines of a period, and the CSV, PDF and Excel
files every channel gives its customers — personal and corporate alike."""
