module example.com/oldgo

go 1.22.0

require golang.org/x/text v0.3.7
